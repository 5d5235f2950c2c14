/**
 * The `identity:` section of a static bootstrap file (the proxy's and the gateway's):
 * a leaf, its key and a trust bundle read from PEM files and checked against each other
 * before a process serves with them, so a wrong file fails at start naming the field.
 *
 * ```yaml
 * identity:
 *   certFile: leaf.pem        # the leaf followed by its intermediates
 *   keyFile: leaf-key.pem
 *   rootsFile: roots.pem      # trust bundle (one or more roots)
 *   revokedSerials: []        # optional, lowercase hex
 * ```
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import { isPlainObject } from '../options/index.ts';
import type { ZoneSpiffeId } from './spiffe.ts';
import { splitPem, verifyLeafChain } from './verify.ts';

/** What {@link loadIdentityFiles} read and checked. */
export interface IdentityFiles {
  /** The leaf (PEM). */
  certificatePem: string;
  /** The leaf and the intermediates above it (PEM bundle). */
  chainPem: string;
  /** The leaf's private key (PEM). */
  keyPem: string;
  /** The trust bundle. */
  roots: string[];
  /** Revoked leaf serials (lowercase hex). */
  revokedSerials: string[];
  /** The leaf's SPIFFE ID. */
  spiffeId: string;
  /** The same, parsed. */
  id: ZoneSpiffeId;
}

/**
 * Reads and checks the `identity` section of the bootstrap file `file`: every file is
 * readable PEM, the key is the leaf's, the chain verifies against the roots, the revoked
 * serials are lowercase hex. Relative paths are resolved against the file's directory.
 *
 * @throws ConfigError `<file>: identity.<field>: <why>` (the field being `identity` when
 *   the section is missing).
 */
export async function loadIdentityFiles(value: unknown, file: string): Promise<IdentityFiles> {
  const fail = (message: string, field: string): never => {
    throw new ConfigError(`${file}: ${field}: ${message}`, field);
  };
  if (!isPlainObject(value))
    return fail('is required: { certFile, keyFile, rootsFile }', 'identity');
  const id = value;
  const base = dirname(resolve(file));
  const readPem = async (field: string): Promise<string> => {
    const path = id[field];
    if (typeof path !== 'string' || path === '')
      return fail('is required (a PEM file path)', `identity.${field}`);
    const full = resolve(base, path);
    try {
      return await readFile(full, 'utf8');
    } catch (err) {
      return fail(`cannot read ${full}: ${(err as Error).message}`, `identity.${field}`);
    }
  };
  const [certText, keyPem, rootsText] = await Promise.all([
    readPem('certFile'),
    readPem('keyFile'),
    readPem('rootsFile'),
  ]);
  const chain = splitPem(certText);
  const roots = splitPem(rootsText);
  const leafPem = chain[0];
  if (leafPem === undefined) return fail('holds no PEM certificate', 'identity.certFile');
  if (roots.length === 0) fail('holds no PEM certificate', 'identity.rootsFile');
  const revoked = id.revokedSerials ?? [];
  if (
    !Array.isArray(revoked) ||
    revoked.some((s) => typeof s !== 'string' || !/^[0-9a-f]{1,64}$/.test(s))
  ) {
    fail('must be a list of lowercase hex serials', 'identity.revokedSerials');
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    return fail(`not a PEM private key (${(err as Error).message})`, 'identity.keyFile');
  }
  if (!new X509Certificate(leafPem).checkPrivateKey(key)) {
    fail('is not the key of the certificate in identity.certFile', 'identity.keyFile');
  }
  let verified;
  try {
    verified = verifyLeafChain(chain, roots);
  } catch (err) {
    return fail(
      `the certificate chain does not verify against identity.rootsFile: ${(err as Error).message}`,
      'identity.certFile',
    );
  }
  return {
    certificatePem: leafPem,
    chainPem: chain.join('\n'),
    keyPem,
    roots,
    revokedSerials: revoked as string[],
    spiffeId: verified.spiffeId,
    id: verified.id,
  };
}

/**
 * Shared CA material for the CA tests: keys are generated once per process (RSA-2048
 * costs ~230 ms each) and reused by every test file.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import {
  createCsr,
  createRootCertificate,
  formatSpiffeId,
  generateKeyPair,
  signIntermediateCertificate,
  signLeafCertificate,
} from '../../../core/src/ca/index.ts';
import type { IssuerCa, KeyPair } from '../../../core/src/ca/index.ts';

export const TD = 'mesh.test';

export interface Keys {
  root: KeyPair;
  otherRoot: KeyPair;
  east: KeyPair;
  west: KeyPair;
  leafA: KeyPair;
  leafB: KeyPair;
  weak: KeyPair;
}

let keys: Promise<Keys> | undefined;

export function testKeys(): Promise<Keys> {
  keys ??= (async () => {
    const [root, otherRoot, east, west, leafA, leafB, weak] = await Promise.all([
      generateKeyPair(),
      generateKeyPair(),
      generateKeyPair(),
      generateKeyPair(),
      generateKeyPair(),
      generateKeyPair(),
      generateKeyPair({ type: 'rsa', bits: 1024 }),
    ]);
    return { root, otherRoot, east, west, leafA, leafB, weak };
  })();
  return keys;
}

export function workloadId(zone: string, service: string, namespace = 'default'): string {
  return formatSpiffeId({ kind: 'workload', trustDomain: TD, zone, namespace, service });
}

export function makeRoot(keyPair: KeyPair): IssuerCa {
  return {
    certificatePem: createRootCertificate({ trustDomain: TD, keyPair }),
    privateKey: keyPair.privateKey,
  };
}

export function makeIntermediate(
  root: IssuerCa,
  zone: string,
  keyPair: KeyPair,
  permittedUris?: string[],
): IssuerCa {
  const csrPem = createCsr({
    keyPair,
    spiffeId: formatSpiffeId({ kind: 'control', trustDomain: TD, zone }),
  });
  return {
    certificatePem: signIntermediateCertificate({
      issuer: root,
      trustDomain: TD,
      zone,
      csrPem,
      permittedUris,
    }),
    privateKey: keyPair.privateKey,
  };
}

export function makeLeaf(
  issuer: IssuerCa,
  spiffeId: string,
  keyPair: KeyPair,
  extra: { validityMs?: number; now?: Date } = {},
): string {
  return signLeafCertificate({
    issuer,
    spiffeId,
    csrPem: createCsr({ keyPair, spiffeId }),
    ...extra,
  });
}

/**
 * A leaf signed with forge directly, bypassing `signLeafCertificate`'s zone check: what a
 * compromised zone could mint with its intermediate key.
 */
export function rogueLeaf(issuer: IssuerCa, spiffeId: string, keyPair: KeyPair): string {
  const issuerCert = forge.pki.certificateFromPem(issuer.certificatePem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(
    keyPair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  );
  cert.serialNumber = '01' + randomBytes(16).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3_600_000);
  cert.setSubject([{ name: 'organizationName', value: TD }]);
  cert.setIssuer(issuerCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 6, value: spiffeId }] },
    {
      name: 'authorityKeyIdentifier',
      keyIdentifier: issuerCert.generateSubjectKeyIdentifier().getBytes(),
    },
  ]);
  const key = forge.pki.privateKeyFromPem(
    issuer.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  );
  cert.sign(key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** The chain most tests start from: root → intermediate(east) → leaf for east/api. */
export interface EastChain {
  keys: Keys;
  root: IssuerCa;
  east: IssuerCa;
  api: string;
  leaf: string;
}

export async function eastChain(): Promise<EastChain> {
  const keys = await testKeys();
  const root = makeRoot(keys.root);
  const east = makeIntermediate(root, 'east', keys.east);
  const api = workloadId('east', 'api');
  return { keys, root, east, api, leaf: makeLeaf(east, api, keys.leafA) };
}

export interface OpensslResult {
  ok: boolean;
  output: string;
}

/** `openssl verify -CAfile root.pem -untrusted inter.pem leaf.pem` in a temp dir. */
export function opensslVerify(rootPem: string, interPem: string, leafPem: string): OpensslResult {
  const dir = mkdtempSync(join(tmpdir(), 'causeway-ca-'));
  try {
    writeFileSync(join(dir, 'root.pem'), rootPem);
    writeFileSync(join(dir, 'inter.pem'), interPem);
    writeFileSync(join(dir, 'leaf.pem'), leafPem);
    const run = spawnSync(
      'openssl',
      ['verify', '-CAfile', 'root.pem', '-untrusted', 'inter.pem', 'leaf.pem'],
      { cwd: dir, encoding: 'utf8' },
    );
    return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Shared CA material for the CA tests: keys are generated once per process (RSA-2048
 * costs ~230 ms each) and reused by every test file. Most tests use the default key type,
 * ECDSA P-256; the `rsa*` keys cover RSA and mixed chains.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate, generateKeyPair as generateNodeKeyPair } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { derToPem, signTbs } from '../../../core/src/ca/signing.ts';
import {
  authorityKeyIdentifierExtension,
  fromDerBuffer,
  issuerParts,
  nameAsn1,
  signatureAlgorithm,
  spkiDerOf,
  subjectPublicKey,
  tbsCertificate,
} from '../../../core/src/ca/x509.ts';
import {
  createCsr,
  createRootCertificate,
  formatSpiffeId,
  generateKeyPair,
  randomSerial,
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
  /** RSA-2048. */
  rsaRoot: KeyPair;
  rsaEast: KeyPair;
  rsaLeaf: KeyPair;
  /** RSA-1024, below the minimum. */
  weak: KeyPair;
  /** EC on P-384, a curve the CA does not accept. */
  p384: KeyPair;
}

let keys: Promise<Keys> | undefined;

export function testKeys(): Promise<Keys> {
  const rsa = () => generateKeyPair({ type: 'rsa', bits: 2048 });
  keys ??= (async () => {
    const ec = () => generateKeyPair();
    const [root, otherRoot, east, west, leafA, leafB] = await Promise.all([
      ec(),
      ec(),
      ec(),
      ec(),
      ec(),
      ec(),
    ]);
    const [rsaRoot, rsaEast, rsaLeaf, weak, p384] = await Promise.all([
      rsa(),
      rsa(),
      rsa(),
      generateKeyPair({ type: 'rsa', bits: 1024 }),
      promisify(generateNodeKeyPair)('ec', { namedCurve: 'secp384r1' }),
    ]);
    return { root, otherRoot, east, west, leafA, leafB, rsaRoot, rsaEast, rsaLeaf, weak, p384 };
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
 * A leaf built and signed directly, bypassing `signLeafCertificate`'s zone check: what a
 * compromised zone could mint with its intermediate key.
 */
export function rogueLeaf(issuer: IssuerCa, spiffeId: string, keyPair: KeyPair): string {
  const issuerCert = new X509Certificate(issuer.certificatePem);
  const { subjectDer, keyId } = issuerParts(issuerCert.raw);
  const tbs = tbsCertificate({
    serialHex: randomSerial(),
    signatureAlgorithm: signatureAlgorithm(
      issuer.privateKey.asymmetricKeyType === 'rsa' ? 'rsa' : 'ec',
    ),
    issuer: fromDerBuffer(subjectDer),
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    subject: nameAsn1([{ name: 'organizationName', value: TD }]),
    subjectPublicKeyInfo: subjectPublicKey(spkiDerOf(keyPair.publicKey)).spki,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 6, value: spiffeId }] },
      authorityKeyIdentifierExtension(keyId),
    ],
  });
  return derToPem(signTbs(tbs, issuer.privateKey), 'CERTIFICATE');
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

/**
 * Mesh identities for the proxy benchmark, made with core's CA functions the way a zone
 * would issue them: a root, one zone intermediate and a leaf per service (EC P-256, the
 * default key type), written as PEM files that both Causeway (bootstrap `identity`) and
 * HAProxy (`crt` = leaf + chain + key in one file, `ca-file` = roots) can load.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  createCsr,
  createRootCertificate,
  formatSpiffeId,
  generateKeyPair,
  privateKeyToPem,
  signIntermediateCertificate,
  signLeafCertificate,
} from '../../core/index.ts';
import type { IssuerCa } from '../../core/index.ts';

export interface LeafFiles {
  service: string;
  spiffeId: string;
  /** The leaf then the zone intermediate. */
  certFile: string;
  /** PKCS#8 private key. */
  keyFile: string;
  /** Leaf, intermediate and key in one file, for HAProxy's `crt`. */
  combinedFile: string;
}

export interface MeshCerts {
  dir: string;
  trustDomain: string;
  zone: string;
  namespace: string;
  /** The root certificate (the trust bundle). */
  rootsFile: string;
  leaves: Record<string, LeafFiles>;
}

export interface MeshCertsOptions {
  trustDomain: string;
  zone: string;
  namespace?: string;
  services: string[];
  /** Where to write; a fresh temp dir by default. */
  dir?: string;
}

/** The SNI a Causeway proxy sends for a destination service (see the preamble). */
export function meshSni(
  certs: Pick<MeshCerts, 'trustDomain' | 'zone' | 'namespace'>,
  service: string,
): string {
  return `${service}.${certs.namespace}.${certs.zone}.${certs.trustDomain}`;
}

export async function writeMeshCerts(options: MeshCertsOptions): Promise<MeshCerts> {
  const { trustDomain, zone } = options;
  const namespace = options.namespace ?? 'default';
  const dir = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'cw-bench-certs-')));
  const [rootKey, zoneKey, ...leafKeys] = await Promise.all(
    [0, 1, ...options.services].map(() => generateKeyPair()),
  );
  if (!rootKey || !zoneKey) throw new Error('key generation returned too few keys');
  const root: IssuerCa = {
    certificatePem: createRootCertificate({ trustDomain, keyPair: rootKey }),
    privateKey: rootKey.privateKey,
  };
  const zoneCa: IssuerCa = {
    certificatePem: signIntermediateCertificate({
      issuer: root,
      trustDomain,
      zone,
      csrPem: createCsr({
        keyPair: zoneKey,
        spiffeId: formatSpiffeId({ kind: 'control', trustDomain, zone }),
      }),
    }),
    privateKey: zoneKey.privateKey,
  };
  const rootsFile = path.join(dir, 'roots.pem');
  await writeFile(rootsFile, root.certificatePem);

  const leaves: Record<string, LeafFiles> = {};
  for (const [i, service] of options.services.entries()) {
    const keyPair = leafKeys[i];
    if (!keyPair) throw new Error('key generation returned too few keys');
    const spiffeId = formatSpiffeId({ kind: 'workload', trustDomain, zone, namespace, service });
    const leafPem = signLeafCertificate({
      issuer: zoneCa,
      spiffeId,
      csrPem: createCsr({ keyPair, spiffeId }),
    });
    const chainPem = leafPem + zoneCa.certificatePem;
    const keyPem = privateKeyToPem(keyPair.privateKey);
    const files: LeafFiles = {
      service,
      spiffeId,
      certFile: path.join(dir, `${service}.pem`),
      keyFile: path.join(dir, `${service}-key.pem`),
      combinedFile: path.join(dir, `${service}-haproxy.pem`),
    };
    await writeFile(files.certFile, chainPem);
    await writeFile(files.keyFile, keyPem, { mode: 0o600 });
    await writeFile(files.combinedFile, chainPem + keyPem, { mode: 0o600 });
    leaves[service] = files;
  }
  return { dir, trustDomain, zone, namespace, rootsFile, leaves };
}

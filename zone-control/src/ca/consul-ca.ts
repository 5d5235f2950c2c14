/**
 * Consul's shapes for `/v1/connect/ca/roots` (`structs.IndexedCARoots`) and
 * `/v1/agent/connect/ca/leaf/<service>` (`structs.IssuedCert`), so Consul-native
 * integrations can read Causeway's CA. Differences (docs/security-and-ca.md): `SerialNumber`
 * of a root is its serial's low 53 bits (Consul's is a small uint64 counter; ours is 128
 * random bits and JSON numbers stop at 2^53), and `ServiceURI` is Causeway's SPIFFE ID.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { splitPem } from '../../../core/index.ts';
import type { CaState, RootRecord } from '../../../core/index.ts';

/** Consul prints times as RFC 3339 without fractions: `2028-05-22T21:39:23Z`. */
export function consulTime(date: Date | string): string {
  return new Date(date).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function colonHex(buf: Buffer): string {
  return buf.toString('hex').replace(/(..)(?!$)/g, '$1:');
}

/** A hex serial as Consul prints one: colon-separated bytes. */
export function serialColonHex(serial: string): string {
  return colonHex(Buffer.from(serial.length % 2 ? '0' + serial : serial, 'hex'));
}

/** A key's ID: SHA-256 of its SubjectPublicKeyInfo, colon hex (Consul's `SigningKeyID` form). */
export function signingKeyId(certificatePem: string): string {
  const spki = new X509Certificate(certificatePem).publicKey.export({
    type: 'spki',
    format: 'der',
  });
  return colonHex(createHash('sha256').update(spki).digest());
}

export function consulRoot(
  root: RootRecord,
  state: CaState,
  index: number,
): Record<string, unknown> {
  const cert = new X509Certificate(root.certificatePem);
  const serial = BigInt('0x' + cert.serialNumber) & ((1n << 53n) - 1n);
  const intermediate = state.intermediates.find((i) => i.rootId === root.id);
  const intermediates = [
    ...(root.crossSignedPem ? [root.crossSignedPem] : []),
    ...(intermediate ? [intermediate.certificatePem] : []),
    ...splitPem(root.signerChainPem ?? ''),
  ];
  return {
    ID: root.id,
    Name: `Causeway CA Root Cert (${root.source})`,
    SerialNumber: Number(serial),
    SigningKeyID: signingKeyId(intermediate?.certificatePem ?? root.certificatePem),
    ExternalTrustDomain: state.trustDomain,
    NotBefore: consulTime(cert.validFrom),
    NotAfter: consulTime(cert.validTo),
    RootCert: root.certificatePem,
    IntermediateCerts: intermediates,
    Active: root.id === state.activeRootId,
    PrivateKeyType: root.key?.type ?? (cert.publicKey.asymmetricKeyType === 'rsa' ? 'rsa' : 'ec'),
    PrivateKeyBits: root.key?.bits ?? 0,
    CreateIndex: index,
    ModifyIndex: index,
  };
}

export function consulRoots(state: CaState, index: number): Record<string, unknown> {
  return {
    ActiveRootID: state.activeRootId,
    TrustDomain: state.trustDomain,
    Roots: state.roots.map((r) => consulRoot(r, state, index)),
  };
}

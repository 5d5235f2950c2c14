/**
 * Signing to-be-signed ASN.1 with Node's crypto, for RSA and ECDSA P-256 keys alike.
 *
 * node-forge signs only with pure-JS RSA (~30 ms a certificate) and cannot encode EC keys,
 * so we build the to-be-signed structure ourselves (TBSCertificate or
 * CertificationRequestInfo, see `x509.ts`), DER-encode it, sign those bytes with
 * `crypto.sign` (OpenSSL) and assemble the outer
 * `SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING signature }` — the same shape for both
 * (RFC 5280 §4.1, RFC 2986 §4.2). The algorithm follows the signing key: RSASSA-PKCS1-v1_5
 * or ECDSA, always with SHA-256; `crypto.sign` already returns ECDSA signatures as the DER
 * `Ecdsa-Sig-Value` X.509 expects.
 */
import { sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { InvalidArgumentError } from '../errors.ts';
import type { CertificateKeyType } from './x509.ts';
import { signatureAlgorithm, toDerBuffer } from './x509.ts';

const { asn1 } = forge;

/**
 * The key type a CA signs with: RSA or EC.
 *
 * @throws InvalidArgumentError for any other key (Ed25519, RSA-PSS, DSA, …).
 */
export function signingKeyType(privateKey: KeyObject): CertificateKeyType {
  const type = privateKey.asymmetricKeyType;
  if (type === 'rsa' || type === 'ec') return type;
  throw new InvalidArgumentError(
    `signing keys must be RSA or EC (got ${type ?? privateKey.type})`,
    'privateKey',
  );
}

/**
 * Sign `tbs` with `privateKey` and wrap it; returns the DER of the signed structure. A
 * TBSCertificate must already name `signatureAlgorithm(signingKeyType(privateKey))`.
 */
export function signTbs(tbs: forge.asn1.Asn1, privateKey: KeyObject): Buffer {
  const algorithm = signatureAlgorithm(signingKeyType(privateKey));
  const signature = sign('sha256', toDerBuffer(tbs), privateKey);
  const signed = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    algorithm,
    // BIT STRING: a leading 0x00 says no unused bits.
    asn1.create(
      asn1.Class.UNIVERSAL,
      asn1.Type.BITSTRING,
      false,
      '\0' + signature.toString('binary'),
    ),
  ]);
  return toDerBuffer(signed);
}

/** PEM-armour DER bytes. */
export function derToPem(der: Buffer, label: 'CERTIFICATE' | 'CERTIFICATE REQUEST'): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

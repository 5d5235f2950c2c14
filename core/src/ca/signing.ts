/**
 * Signing forge-built ASN.1 with Node's crypto.
 *
 * node-forge builds certificates and CSRs well but signs with pure-JS RSA (~30 ms a
 * certificate). We let forge produce the to-be-signed structure (TBSCertificate or
 * CertificationRequestInfo), DER-encode it, sign those bytes with `crypto.sign`
 * (OpenSSL, RSASSA-PKCS1-v1_5 with SHA-256, ~1 ms), and assemble the outer
 * `SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING signature }` ourselves — the same
 * shape for both (RFC 5280 §4.1, RFC 2986 §4.2).
 */
import { sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { InvalidArgumentError } from '../errors.ts';

const { asn1 } = forge;

/** sha256WithRSAEncryption, the only signature algorithm we issue or accept. */
export const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';

/** DER (forge binary string) of an ASN.1 value as a Buffer. */
export function toDerBuffer(value: forge.asn1.Asn1): Buffer {
  return Buffer.from(asn1.toDer(value).getBytes(), 'binary');
}

/** Sign `tbs` with `privateKey` and wrap it; returns the DER of the signed structure. */
export function signTbs(tbs: forge.asn1.Asn1, privateKey: KeyObject): Buffer {
  if (privateKey.asymmetricKeyType !== 'rsa') {
    throw new InvalidArgumentError('signing keys must be RSA', 'privateKey');
  }
  const signature = sign('sha256', toDerBuffer(tbs), privateKey);
  const signed = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(
        asn1.Class.UNIVERSAL,
        asn1.Type.OID,
        false,
        asn1.oidToDer(SHA256_WITH_RSA).getBytes(),
      ),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
    ]),
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

// Present at run time in node-forge 1.x but missing from @types/node-forge.
const pkiExtra = forge.pki as unknown as {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
  getCertificationRequestInfo(csr: forge.pki.CertificateSigningRequest): forge.asn1.Asn1;
};

/** The TBSCertificate of a forge certificate, declared as sha256WithRSAEncryption. */
export function tbsCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 {
  cert.siginfo.algorithmOid = SHA256_WITH_RSA;
  cert.signatureOid = SHA256_WITH_RSA;
  return pkiExtra.getTBSCertificate(cert);
}

/** The CertificationRequestInfo of a forge CSR, declared as sha256WithRSAEncryption. */
export function certificationRequestInfo(
  csr: forge.pki.CertificateSigningRequest,
): forge.asn1.Asn1 {
  csr.siginfo.algorithmOid = SHA256_WITH_RSA;
  csr.signatureOid = SHA256_WITH_RSA;
  return pkiExtra.getCertificationRequestInfo(csr);
}

/** PEM-armour DER bytes. */
export function derToPem(der: Buffer, label: 'CERTIFICATE' | 'CERTIFICATE REQUEST'): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** A forge public key from a Node KeyObject (RSA only). */
export function toForgePublicKey(key: KeyObject): forge.pki.rsa.PublicKey {
  if (key.asymmetricKeyType !== 'rsa') {
    throw new InvalidArgumentError(
      'certificate keys must be RSA (node-forge cannot encode others)',
      'publicKey',
    );
  }
  const pem = key.export({ type: 'spki', format: 'pem' }).toString();
  return forge.pki.publicKeyFromPem(pem);
}

/**
 * Cross-signing, for root rotation phase 1: the new root's subject and key, certified by
 * the old root. A peer that trusts only the old root can then verify a chain under the
 * new root by way of this certificate, so nothing breaks for a participant that is slow to
 * take the new bundle. Consul publishes the same certificate in the new root's
 * `IntermediateCerts`.
 */
import { createPublicKey } from 'node:crypto';
import { InvalidArgumentError } from '../errors.ts';
import type { IssuerCa } from './certificates.ts';
import { randomSerial } from './certificates.ts';
import { derToPem, signTbs, signingKeyType } from './signing.ts';
import { parseCertificate } from './verify.ts';
import {
  authorityKeyIdentifierExtension,
  fromDerBuffer,
  issuerParts,
  signatureAlgorithm,
  subjectKeyIdentifierExtension,
  subjectPublicKey,
  tbsCertificate,
} from './x509.ts';

export interface CrossSignOptions {
  /** The new root (self-signed). */
  certificatePem: string;
  /** The old root and its key. */
  issuer: IssuerCa;
  now?: Date;
}

/** The new root re-issued by the old one; valid until the earlier of the two expiries. */
export function crossSignCertificate(options: CrossSignOptions): string {
  const subject = parseCertificate(options.certificatePem, 'certificatePem');
  const issuer = parseCertificate(options.issuer.certificatePem, 'issuer');
  if (!subject.ca || !issuer.ca) {
    throw new InvalidArgumentError(
      'only a CA certificate can be cross-signed by a CA',
      'certificatePem',
    );
  }
  if (!createPublicKey(options.issuer.privateKey).equals(issuer.publicKey)) {
    throw new InvalidArgumentError(
      'issuer private key does not match the issuer certificate',
      'issuer',
    );
  }
  const own = issuerParts(subject.raw);
  const by = issuerParts(issuer.raw);
  const key = subjectPublicKey(subject.publicKey.export({ type: 'spki', format: 'der' }));
  const now = options.now ?? new Date();
  const tbs = tbsCertificate({
    serialHex: randomSerial(),
    signatureAlgorithm: signatureAlgorithm(signingKeyType(options.issuer.privateKey)),
    issuer: fromDerBuffer(by.subjectDer),
    notBefore: new Date(Math.max(now.getTime() - 60_000, Date.parse(issuer.validFrom))),
    notAfter: new Date(Math.min(Date.parse(subject.validTo), Date.parse(issuer.validTo))),
    subject: fromDerBuffer(own.subjectDer),
    subjectPublicKeyInfo: key.spki,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      subjectKeyIdentifierExtension(own.keyId),
      authorityKeyIdentifierExtension(by.keyId),
    ],
  });
  return derToPem(signTbs(tbs, options.issuer.privateKey), 'CERTIFICATE');
}

/**
 * Issuing certificates: the global root, one intermediate per zone, and workload leaves.
 *
 * Certificates are built with node-forge and signed with Node's crypto (see
 * `signing.ts`): forge's RSA signing costs ~30 ms, `crypto.sign` over forge's TBS bytes
 * ~1 ms. Every key in a certificate is RSA because forge can encode no other.
 *
 * ## Name constraints: what is enforced where
 *
 * Each intermediate carries a critical nameConstraints extension (RFC 5280 §4.2.1.10,
 * built by hand: forge cannot write one) whose permitted subtree is the URI GeneralName
 * `<trust-domain>`. RFC 5280 URI constraints name a *host*, and OpenSSL (hence
 * `openssl verify` and Node's `tls`) compares only the authority of the SAN
 * (`spiffe://<td>/…` → `<td>`) with the constraint: a base like
 * `spiffe://<td>/zone/east/` never matches anything and makes every leaf fail with
 * "permitted subtree violation". So:
 * - OpenSSL / Node TLS enforce: a zone's intermediate can only mint identities in our
 *   trust domain;
 * - the zone boundary (`spiffe://<td>/zone/<zone>/…`) is enforced by us: the intermediate
 *   names its zone in its subject (`OU=zone/<zone>`), {@link signLeafCertificate} refuses
 *   identities outside it, and `verifyLeafChain` refuses leaves outside it.
 */
import { randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { InvalidArgumentError, PermissionDeniedError } from '../errors.ts';
import { validateCsr } from './csr.ts';
import type { KeyPair } from './keys.ts';
import { derToPem, signTbs, tbsCertificate, toForgePublicKey } from './signing.ts';
import {
  formatSpiffeId,
  parseSpiffeId,
  validateSpiffeSegment,
  validateTrustDomain,
} from './spiffe.ts';

const { asn1 } = forge;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
export const DEFAULT_ROOT_VALIDITY_MS = 10 * 365 * DAY_MS;
export const DEFAULT_INTERMEDIATE_VALIDITY_MS = 365 * DAY_MS;
export const DEFAULT_LEAF_VALIDITY_MS = 24 * HOUR_MS;
/** notBefore is backdated this much to tolerate clock skew between hosts. */
const BACKDATE_MS = 60_000;
const NAME_CONSTRAINTS_OID = '2.5.29.30';

/** A CA that can sign: its certificate and private key (RSA). */
export interface IssuerCa {
  certificatePem: string;
  privateKey: KeyObject;
}

interface ValidityOptions {
  /** How long the certificate is valid, from `now`. */
  validityMs?: number;
  /** @default new Date() */
  now?: Date;
}

export interface RootCaOptions extends ValidityOptions {
  trustDomain: string;
  keyPair: KeyPair;
}

export interface IntermediateOptions extends ValidityOptions {
  issuer: IssuerCa;
  trustDomain: string;
  zone: string;
  /** The zone's CSR; it must request exactly `spiffe://<td>/zone/<zone>/control`. */
  csrPem: string;
  /**
   * URI name-constraint bases (hosts, RFC 5280). Only tests change this, to show what
   * OpenSSL does with other forms.
   * @default [trustDomain]
   */
  permittedUris?: string[];
}

export interface LeafOptions extends ValidityOptions {
  /** A zone intermediate. */
  issuer: IssuerCa;
  csrPem: string;
  /** The identity the caller is entitled to; the CSR must request exactly this. */
  spiffeId: string;
}

/** A random positive 128-bit serial (hex), 0x01-prefixed so the DER INTEGER is minimal. */
export function randomSerial(): string {
  return '01' + randomBytes(16).toString('hex');
}

/** Create a self-signed root CA certificate (PEM); default validity 10 years. */
export function createRootCertificate(options: RootCaOptions): string {
  const trustDomain = validateTrustDomain(options.trustDomain);
  const cert = newCertificate(
    toForgePublicKey(options.keyPair.publicKey),
    options,
    DEFAULT_ROOT_VALIDITY_MS,
  );
  const subject = [
    { name: 'organizationName', value: trustDomain },
    { name: 'commonName', value: `Causeway root CA ${cert.serialNumber.slice(2, 10)}` },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: true },
  ]);
  return derToPem(signTbs(tbsCertificate(cert), options.keyPair.privateKey), 'CERTIFICATE');
}

/**
 * Sign a zone's intermediate CA (pathLen 0, default 1 year) from the zone's CSR.
 *
 * @throws InvalidArgumentError / PermissionDeniedError from CSR validation.
 */
export function signIntermediateCertificate(options: IntermediateOptions): string {
  const trustDomain = validateTrustDomain(options.trustDomain);
  const zone = validateSpiffeSegment(options.zone, 'zone');
  const csr = validateCsr(options.csrPem, formatSpiffeId({ kind: 'control', trustDomain, zone }));
  const issuer = issuerInfo(options.issuer);
  const cert = newCertificate(
    csr.forgePublicKey,
    options,
    DEFAULT_INTERMEDIATE_VALIDITY_MS,
    issuer,
  );
  cert.setSubject([
    { name: 'organizationName', value: trustDomain },
    { name: 'organizationalUnitName', value: `zone/${zone}` },
    { name: 'commonName', value: `Causeway zone ${zone} CA` },
  ]);
  cert.setIssuer(issuer.subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    {
      id: NAME_CONSTRAINTS_OID,
      critical: true,
      value: uriNameConstraints(options.permittedUris ?? [trustDomain]),
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: issuer.keyId },
  ]);
  return derToPem(signTbs(tbsCertificate(cert), options.issuer.privateKey), 'CERTIFICATE');
}

/**
 * Sign a leaf (default 24 h, never past the issuer's expiry) whose only SAN is
 * `spiffeId`, for TLS server and client use.
 *
 * @throws PermissionDeniedError when `spiffeId` is outside the issuer's zone, or the CSR
 *   asks for anything else; InvalidArgumentError for a bad CSR.
 */
export function signLeafCertificate(options: LeafOptions): string {
  const id = parseSpiffeId(options.spiffeId);
  const issuer = issuerInfo(options.issuer);
  if (issuer.zone === undefined) {
    throw new InvalidArgumentError(
      'leaves are signed by a zone intermediate, not a root',
      'issuer',
    );
  }
  if (id.trustDomain !== issuer.trustDomain || id.zone !== issuer.zone) {
    throw new PermissionDeniedError(
      `the zone ${issuer.zone} CA cannot sign ${options.spiffeId}: it is outside spiffe://${issuer.trustDomain}/zone/${issuer.zone}/`,
    );
  }
  const csr = validateCsr(options.csrPem, options.spiffeId);
  const cert = newCertificate(csr.forgePublicKey, options, DEFAULT_LEAF_VALIDITY_MS, issuer);
  cert.setSubject([
    { name: 'organizationName', value: id.trustDomain },
    { name: 'organizationalUnitName', value: `zone/${id.zone}` },
  ]);
  cert.setIssuer(issuer.subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 6, value: options.spiffeId }] },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: issuer.keyId },
  ]);
  return derToPem(signTbs(tbsCertificate(cert), options.issuer.privateKey), 'CERTIFICATE');
}

/**
 * DER (forge binary string) of a NameConstraints value permitting only URIs whose host
 * is one of `bases`:
 * `SEQUENCE { permittedSubtrees [0] { SEQUENCE { uniformResourceIdentifier [6] base } … } }`.
 */
export function uriNameConstraints(bases: readonly string[]): string {
  if (bases.length === 0)
    throw new InvalidArgumentError('at least one URI base is required', 'permittedUris');
  const subtrees = bases.map((base) =>
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.CONTEXT_SPECIFIC, 6, false, base),
    ]),
  );
  const value = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, subtrees),
  ]);
  return asn1.toDer(value).getBytes();
}

interface IssuerInfo {
  subject: forge.pki.CertificateField[];
  /** SubjectKeyIdentifier (binary string), copied into children's AKI. */
  keyId: string;
  notAfter: Date;
  trustDomain: string;
  /** Set for zone intermediates (`OU=zone/<zone>`). */
  zone: string | undefined;
}

// Parsing the issuer with forge costs more than signing a leaf; do it once per CA.
const issuerCache = new WeakMap<IssuerCa, IssuerInfo>();

function issuerInfo(ca: IssuerCa): IssuerInfo {
  const cached = issuerCache.get(ca);
  if (cached) return cached;
  let cert: forge.pki.Certificate;
  try {
    cert = forge.pki.certificateFromPem(ca.certificatePem);
  } catch (err) {
    throw new InvalidArgumentError(`issuer certificate cannot be parsed: ${String(err)}`, 'issuer');
  }
  const basic = cert.getExtension('basicConstraints') as { cA?: boolean } | null;
  if (!basic?.cA) throw new InvalidArgumentError('issuer certificate is not a CA', 'issuer');
  const field = (name: string): string | undefined => {
    const value = (cert.subject.getField(name) as { value?: unknown } | null)?.value;
    return typeof value === 'string' ? value : undefined;
  };
  const ou = field('OU');
  const info: IssuerInfo = {
    subject: cert.subject.attributes,
    keyId: cert.generateSubjectKeyIdentifier().getBytes(),
    notAfter: cert.validity.notAfter,
    trustDomain: validateTrustDomain(field('O'), 'issuer.subject.O'),
    zone: ou?.startsWith('zone/') ? ou.slice('zone/'.length) : undefined,
  };
  issuerCache.set(ca, info);
  return info;
}

function newCertificate(
  publicKey: forge.pki.rsa.PublicKey,
  options: ValidityOptions,
  defaultValidityMs: number,
  issuer?: IssuerInfo,
): forge.pki.Certificate {
  const validityMs = options.validityMs ?? defaultValidityMs;
  if (!Number.isFinite(validityMs) || validityMs <= 0) {
    throw new InvalidArgumentError(
      `validityMs must be a positive number (got ${validityMs})`,
      'validityMs',
    );
  }
  const now = options.now ?? new Date();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(now.getTime() - BACKDATE_MS);
  const notAfter = now.getTime() + validityMs;
  cert.validity.notAfter = new Date(
    issuer ? Math.min(notAfter, issuer.notAfter.getTime()) : notAfter,
  );
  return cert;
}

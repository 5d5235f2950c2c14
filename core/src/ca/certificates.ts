/**
 * Issuing certificates: the global root, one intermediate per zone, and workload leaves.
 *
 * Keys are ECDSA P-256 by default and RSA 2048..8192 where someone brings one, in any
 * mix (an RSA root over EC intermediates, an EC intermediate over an RSA leaf). node-forge's
 * certificate object can encode only RSA keys, so we build the TBSCertificate DER ourselves
 * with forge's `asn1` module (`x509.ts`): the SubjectPublicKeyInfo comes from Node, the
 * issuer Name is copied byte for byte from the issuer certificate, the signature algorithm
 * follows the issuer's key, and Node's `crypto.sign` signs it (`signing.ts`, well under
 * 1 ms, against ~30 ms for forge's pure-JS RSA).
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
import { X509Certificate, createPublicKey, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { InvalidArgumentError, PermissionDeniedError } from '../errors.ts';
import { validateCsr } from './csr.ts';
import type { KeyPair } from './keys.ts';
import { certificateKeyType } from './keys.ts';
import { derToPem, signTbs, signingKeyType } from './signing.ts';
import {
  formatSpiffeId,
  parseSpiffeId,
  validateSpiffeSegment,
  validateTrustDomain,
} from './spiffe.ts';
import type { IssuerParts, TbsCertificateFields } from './x509.ts';
import {
  authorityKeyIdentifierExtension,
  fromDerBuffer,
  issuerParts,
  nameAsn1,
  signatureAlgorithm,
  subjectFields,
  subjectKeyIdentifierExtension,
  spkiDerOf,
  subjectPublicKey,
  tbsCertificate,
} from './x509.ts';

const { asn1 } = forge;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
export const DEFAULT_ROOT_VALIDITY_MS = 10 * 365 * DAY_MS;
export const DEFAULT_INTERMEDIATE_VALIDITY_MS = 365 * DAY_MS;
export const DEFAULT_LEAF_VALIDITY_MS = 24 * HOUR_MS;
/** notBefore is backdated this much to tolerate clock skew between hosts. */
const BACKDATE_MS = 60_000;
const NAME_CONSTRAINTS_OID = '2.5.29.30';

/** A CA that can sign: its certificate and private key (RSA or EC). */
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
  /** EC P-256 or RSA 2048..8192. */
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
  const { publicKey, privateKey } = options.keyPair;
  certificateKeyType(publicKey, 'root key', 'keyPair');
  const key = subjectPublicKey(spkiDerOf(publicKey));
  const serialHex = randomSerial();
  const subject = nameAsn1([
    { name: 'organizationName', value: trustDomain },
    { name: 'commonName', value: `Causeway root CA ${serialHex.slice(2, 10)}` },
  ]);
  return issue(
    {
      serialHex,
      ...validity(options, DEFAULT_ROOT_VALIDITY_MS),
      issuer: subject,
      subject,
      subjectPublicKeyInfo: key.spki,
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        subjectKeyIdentifierExtension(key.keyId),
        authorityKeyIdentifierExtension(key.keyId),
      ],
    },
    privateKey,
  );
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
  const key = subjectPublicKey(csr.subjectPublicKeyInfo);
  return issue(
    {
      serialHex: randomSerial(),
      ...validity(options, DEFAULT_INTERMEDIATE_VALIDITY_MS, issuer),
      issuer: issuer.subject,
      subject: nameAsn1([
        { name: 'organizationName', value: trustDomain },
        { name: 'organizationalUnitName', value: `zone/${zone}` },
        { name: 'commonName', value: `Causeway zone ${zone} CA` },
      ]),
      subjectPublicKeyInfo: key.spki,
      extensions: [
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        {
          id: NAME_CONSTRAINTS_OID,
          critical: true,
          value: uriNameConstraints(options.permittedUris ?? [trustDomain]),
        },
        subjectKeyIdentifierExtension(key.keyId),
        authorityKeyIdentifierExtension(issuer.keyId),
      ],
    },
    options.issuer.privateKey,
  );
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
  if (issuer.zone === undefined || issuer.trustDomain === undefined) {
    throw new InvalidArgumentError(
      'leaves are signed by a zone intermediate, not a root',
      'issuer',
    );
  }
  validateTrustDomain(issuer.trustDomain, 'issuer.subject.O');
  if (id.trustDomain !== issuer.trustDomain || id.zone !== issuer.zone) {
    throw new PermissionDeniedError(
      `the zone ${issuer.zone} CA cannot sign ${options.spiffeId}: it is outside spiffe://${issuer.trustDomain}/zone/${issuer.zone}/`,
    );
  }
  const csr = validateCsr(options.csrPem, options.spiffeId);
  const key = subjectPublicKey(csr.subjectPublicKeyInfo);
  return issue(
    {
      serialHex: randomSerial(),
      ...validity(options, DEFAULT_LEAF_VALIDITY_MS, issuer),
      issuer: issuer.subject,
      subject: nameAsn1([
        { name: 'organizationName', value: id.trustDomain },
        { name: 'organizationalUnitName', value: `zone/${id.zone}` },
      ]),
      subjectPublicKeyInfo: key.spki,
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        // keyEncipherment is RSA key transport; EC keys must not assert it (RFC 5480 §3).
        csr.keyType === 'rsa'
          ? { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true }
          : { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 6, value: options.spiffeId }] },
        subjectKeyIdentifierExtension(key.keyId),
        authorityKeyIdentifierExtension(issuer.keyId),
      ],
    },
    options.issuer.privateKey,
  );
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
  /** The issuer's subject Name as its certificate encodes it, for children's issuer. */
  subject: forge.asn1.Asn1;
  /** The issuer's key identifier, copied into children's AKI. */
  keyId: Buffer;
  notAfter: Date;
  /**
   * `O=`: the trust domain for our own CAs. A provided root may have any subject, so it
   * is only checked where it matters: a leaf's issuer must be one of our intermediates.
   */
  trustDomain: string | undefined;
  /** Set for zone intermediates (`OU=zone/<zone>`). */
  zone: string | undefined;
}

// Parsing the issuer costs about as much as signing a leaf; do it once per CA.
const issuerCache = new WeakMap<IssuerCa, IssuerInfo>();

function issuerInfo(ca: IssuerCa): IssuerInfo {
  const cached = issuerCache.get(ca);
  if (cached) return cached;
  let cert: X509Certificate;
  let parts: IssuerParts;
  try {
    cert = new X509Certificate(ca.certificatePem);
    parts = issuerParts(cert.raw);
  } catch (err) {
    throw new InvalidArgumentError(`issuer certificate cannot be parsed: ${String(err)}`, 'issuer');
  }
  if (!cert.ca) throw new InvalidArgumentError('issuer certificate is not a CA', 'issuer');
  signingKeyType(ca.privateKey);
  // A mismatched key would yield certificates nothing can verify; catch it here, once.
  if (!createPublicKey(ca.privateKey).equals(cert.publicKey)) {
    throw new InvalidArgumentError(
      'issuer private key does not match the issuer certificate',
      'issuer',
    );
  }
  const fields = subjectFields(cert.subject);
  const ou = fields.get('OU');
  const info: IssuerInfo = {
    subject: fromDerBuffer(parts.subjectDer),
    keyId: parts.keyId,
    notAfter: new Date(cert.validTo),
    trustDomain: fields.get('O'),
    zone: ou?.startsWith('zone/') ? ou.slice('zone/'.length) : undefined,
  };
  issuerCache.set(ca, info);
  return info;
}

function validity(
  options: ValidityOptions,
  defaultValidityMs: number,
  issuer?: IssuerInfo,
): { notBefore: Date; notAfter: Date } {
  const validityMs = options.validityMs ?? defaultValidityMs;
  if (!Number.isFinite(validityMs) || validityMs <= 0) {
    throw new InvalidArgumentError(
      `validityMs must be a positive number (got ${validityMs})`,
      'validityMs',
    );
  }
  const now = (options.now ?? new Date()).getTime();
  const notAfter = now + validityMs;
  return {
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(issuer ? Math.min(notAfter, issuer.notAfter.getTime()) : notAfter),
  };
}

/** Build the TBSCertificate for `fields`, sign it with the issuer's key, return PEM. */
function issue(
  fields: Omit<TbsCertificateFields, 'signatureAlgorithm'>,
  issuerKey: KeyObject,
): string {
  const tbs = tbsCertificate({
    ...fields,
    signatureAlgorithm: signatureAlgorithm(signingKeyType(issuerKey)),
  });
  return derToPem(signTbs(tbs, issuerKey), 'CERTIFICATE');
}

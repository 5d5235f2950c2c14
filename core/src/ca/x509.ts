/**
 * DER building blocks for X.509 certificates and PKCS#10 requests, whatever the key type.
 *
 * node-forge's certificate and CSR objects are RSA-only: `getTBSCertificate` encodes the
 * public key as RSA and `certificateFromPem` / `certificationRequestFromPem` throw "OID is
 * not RSA" on EC keys. Its generic `asn1` module knows nothing about keys, so we assemble
 * the to-be-signed structures with it ourselves and take each SubjectPublicKeyInfo from
 * Node's `KeyObject` as DER. Parsing uses `asn1.fromDer` for structure and
 * {@link derChildren} where we need the exact bytes (what was signed, the issuer's Name).
 */
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import forge from 'node-forge';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

export const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
export const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
export const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
export const SUBJECT_ALT_NAME = '2.5.29.17';
const SUBJECT_KEY_IDENTIFIER = '2.5.29.14';
const BASIC_CONSTRAINTS = '2.5.29.19';

/** Key types a Causeway CA signs with and issues for. */
export type CertificateKeyType = 'rsa' | 'ec';

// Present at run time in node-forge 1.x but missing from @types/node-forge.
const pkiExtra = forge.pki as unknown as {
  certificateExtensionsToAsn1(exts: readonly ExtensionSpec[]): Asn1;
  distinguishedNameToAsn1(dn: {
    attributes: { type: string; value: string; valueTagClass: number }[];
  }): Asn1;
};
const asn1Extra = asn1 as unknown as {
  fromDer(
    bytes: string,
    options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean },
  ): Asn1;
};

/**
 * A certificate extension as node-forge's `setExtensions` takes it: a `name` with its
 * named fields (`cA`, `altNames`, …), or an `id` with a DER `value`.
 */
export interface ExtensionSpec {
  name?: string;
  id?: string;
  critical?: boolean;
  value?: string | Asn1;
  [field: string]: unknown;
}

/** DER of an ASN.1 value as a Buffer. */
export function toDerBuffer(value: Asn1): Buffer {
  return Buffer.from(asn1.toDer(value).getBytes(), 'binary');
}

/**
 * Parse DER strictly. BIT STRING contents are kept as bytes (forge would otherwise guess
 * whether they hold ASN.1, and an EC point sometimes looks like it does).
 */
export function fromDerBuffer(der: Buffer): Asn1 {
  return asn1Extra.fromDer(der.toString('binary'), {
    strict: true,
    parseAllBytes: true,
    decodeBitStrings: false,
  });
}

/**
 * The raw TLVs inside one constructed DER element (`der` must be exactly that element):
 * for slicing out bytes that must stay byte-identical.
 *
 * @throws Error on BER (indefinite lengths), high tag numbers or truncation.
 */
export function derChildren(der: Buffer): Buffer[] {
  const outer = tlvAt(der, 0);
  if (outer.end !== der.length) throw new Error('trailing bytes after the DER element');
  const children: Buffer[] = [];
  for (let at = outer.contentStart; at < outer.end;) {
    const child = tlvAt(der, at);
    if (child.end > outer.end) throw new Error('DER element overruns its parent');
    children.push(der.subarray(at, child.end));
    at = child.end;
  }
  return children;
}

function tlvAt(der: Buffer, offset: number): { contentStart: number; end: number } {
  if ((der.readUInt8(offset) & 0x1f) === 0x1f)
    throw new Error('high tag numbers are not supported');
  const first = der.readUInt8(offset + 1);
  let length = first;
  let contentStart = offset + 2;
  if (first >= 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new Error('unsupported DER length encoding');
    length = der.readUIntBE(offset + 2, count);
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > der.length) throw new Error('truncated DER element');
  return { contentStart, end };
}

/** The OID string of an OBJECT IDENTIFIER node. */
export function oidOf(node: Asn1 | undefined): string {
  if (node?.tagClass !== asn1.Class.UNIVERSAL || node.type !== asn1.Type.OID) {
    throw new Error('expected an OBJECT IDENTIFIER');
  }
  return asn1.derToOid(bytesOf(node));
}

/** The contents of a primitive node (forge binary string). */
export function bytesOf(node: Asn1 | undefined): string {
  if (typeof node?.value !== 'string') throw new Error('expected a primitive ASN.1 value');
  return node.value;
}

/** The children of a constructed node. */
export function childrenOf(node: Asn1 | undefined): Asn1[] {
  if (!Array.isArray(node?.value)) throw new Error('expected a constructed ASN.1 value');
  return node.value;
}

function oidNode(oid: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes());
}

/**
 * The AlgorithmIdentifier for SHA-256 signatures by a key of `keyType`: RSA carries NULL
 * parameters (RFC 4055 §5), ECDSA none at all (RFC 5758 §3.2).
 */
export function signatureAlgorithm(keyType: CertificateKeyType): Asn1 {
  return keyType === 'rsa'
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        oidNode(SHA256_WITH_RSA),
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
      ])
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [oidNode(ECDSA_WITH_SHA256)]);
}

/** A public key as certificates and CSRs carry it, with its key identifier. */
export interface SubjectPublicKey {
  /** The SubjectPublicKeyInfo, as Node exports it. */
  spki: Asn1;
  /** SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2, method 1). */
  keyId: Buffer;
}

/**
 * Wrap a DER SubjectPublicKeyInfo (from `KeyObject.export({ type: 'spki', format: 'der' })`
 * or as a CSR carries it). Exporting costs ~150 µs in OpenSSL 3, so a CSR's bytes are
 * reused rather than re-exported from its `KeyObject`.
 */
export function subjectPublicKey(spkiDer: Buffer): SubjectPublicKey {
  const spki = fromDerBuffer(spkiDer);
  return { spki, keyId: keyIdentifier(spki) };
}

/** DER SubjectPublicKeyInfo of a key. */
export function spkiDerOf(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the BIT STRING contents, unused-bits byte excluded. */
export function keyIdentifier(spki: Asn1): Buffer {
  const bits = childrenOf(spki)[1];
  if (bits?.type !== asn1.Type.BITSTRING) throw new Error('SubjectPublicKeyInfo has no key bits');
  return createHash('sha1')
    .update(Buffer.from(bytesOf(bits), 'binary').subarray(1))
    .digest();
}

/** An X.501 Name with one attribute per RDN, values as UTF8String (RFC 5280 §4.1.2.4). */
export function nameAsn1(attributes: readonly { name: string; value: string }[]): Asn1 {
  return pkiExtra.distinguishedNameToAsn1({
    attributes: attributes.map(({ name, value }) => {
      const type = forge.pki.oids[name];
      if (type === undefined) throw new Error(`unknown name attribute ${name}`);
      return { type, value, valueTagClass: asn1.Type.UTF8 };
    }),
  });
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
export function timeAsn1(date: Date): Asn1 {
  return date.getUTCFullYear() < 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(
        asn1.Class.UNIVERSAL,
        asn1.Type.GENERALIZEDTIME,
        false,
        asn1.dateToGeneralizedTime(date),
      );
}

/** `[3] EXPLICIT Extensions`, each named extension encoded by forge. */
export function extensionsAsn1(specs: readonly ExtensionSpec[]): Asn1 {
  // forge fills in `id` and the DER `value` of named extensions only in setExtensions; a
  // throwaway certificate does that. subjectKeyIdentifier / authorityKeyIdentifier must
  // arrive with a `value`: forge would compute them from the (RSA-only) certificate key.
  const holder = forge.pki.createCertificate();
  holder.setExtensions(specs.map((spec) => ({ ...spec })));
  return pkiExtra.certificateExtensionsToAsn1(holder.extensions as ExtensionSpec[]);
}

/** subjectKeyIdentifier extension with an explicit key id. */
export function subjectKeyIdentifierExtension(keyId: Buffer): ExtensionSpec {
  return {
    name: 'subjectKeyIdentifier',
    value: asn1.create(
      asn1.Class.UNIVERSAL,
      asn1.Type.OCTETSTRING,
      false,
      keyId.toString('binary'),
    ),
  };
}

/** authorityKeyIdentifier extension carrying only `keyIdentifier [0]`. */
export function authorityKeyIdentifierExtension(keyId: Buffer): ExtensionSpec {
  return {
    name: 'authorityKeyIdentifier',
    value: asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, keyId.toString('binary')),
    ]),
  };
}

export interface TbsCertificateFields {
  /** Positive serial, hex. */
  serialHex: string;
  /** The issuer key's {@link signatureAlgorithm}; the outer one must be equal. */
  signatureAlgorithm: Asn1;
  issuer: Asn1;
  notBefore: Date;
  notAfter: Date;
  subject: Asn1;
  subjectPublicKeyInfo: Asn1;
  extensions: readonly ExtensionSpec[];
}

/** A v3 TBSCertificate (RFC 5280 §4.1). */
export function tbsCertificate(fields: TbsCertificateFields): Asn1 {
  const { UNIVERSAL, CONTEXT_SPECIFIC } = asn1.Class;
  return asn1.create(UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(CONTEXT_SPECIFIC, 0, true, [
      asn1.create(UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(2).getBytes()),
    ]),
    asn1.create(UNIVERSAL, asn1.Type.INTEGER, false, forge.util.hexToBytes(fields.serialHex)),
    fields.signatureAlgorithm,
    fields.issuer,
    asn1.create(UNIVERSAL, asn1.Type.SEQUENCE, true, [
      timeAsn1(fields.notBefore),
      timeAsn1(fields.notAfter),
    ]),
    fields.subject,
    fields.subjectPublicKeyInfo,
    extensionsAsn1(fields.extensions),
  ]);
}

/** What a child certificate copies from its issuer's certificate. */
export interface IssuerParts {
  /** The subject Name exactly as the issuer certificate encodes it. */
  subjectDer: Buffer;
  /** Its subjectKeyIdentifier extension, or the method-1 key id when it has none. */
  keyId: Buffer;
}

/**
 * The raw subject Name and key identifier of a DER certificate.
 *
 * @throws Error when the certificate is not structured as RFC 5280 says.
 */
export function issuerParts(certificateDer: Buffer): IssuerParts {
  const [tbs] = derChildren(certificateDer);
  if (!tbs) throw new Error('certificate has no TBSCertificate');
  const fields = derChildren(tbs);
  // version is `[0] EXPLICIT` and absent for v1 certificates.
  const at = fields[0]?.readUInt8(0) === 0xa0 ? 1 : 0;
  const subjectDer = fields[at + 4];
  const spkiDer = fields[at + 5];
  if (!subjectDer || !spkiDer) throw new Error('TBSCertificate is too short');
  const skid = extensionValueIn(fields.slice(at + 6), SUBJECT_KEY_IDENTIFIER);
  const keyId = skid
    ? Buffer.from(bytesOf(fromDerBuffer(skid)), 'binary')
    : keyIdentifier(fromDerBuffer(spkiDer));
  return { subjectDer, keyId };
}

/** The DER inside an extension's OCTET STRING, from a TBSCertificate's trailing fields. */
function extensionValueIn(trailing: Buffer[], oid: string): Buffer | undefined {
  const extensions = trailing.find((f) => f.readUInt8(0) === 0xa3);
  if (!extensions) return undefined;
  for (const extension of childrenOf(childrenOf(fromDerBuffer(extensions))[0])) {
    const parts = childrenOf(extension);
    if (oidOf(parts[0]) === oid) return Buffer.from(bytesOf(parts.at(-1)), 'binary');
  }
  return undefined;
}

/**
 * A CA certificate's basicConstraints pathLenConstraint: how many CAs may follow it
 * below (RFC 5280 §4.2.1.9); undefined when it sets no limit. Node's X509Certificate does
 * not expose it.
 */
export function pathLengthConstraint(certificateDer: Buffer): number | undefined {
  const [tbs] = derChildren(certificateDer);
  if (!tbs) throw new Error('certificate has no TBSCertificate');
  const fields = derChildren(tbs);
  const at = fields[0]?.readUInt8(0) === 0xa0 ? 1 : 0;
  const value = extensionValueIn(fields.slice(at + 6), BASIC_CONSTRAINTS);
  if (!value) return undefined;
  const limit = childrenOf(fromDerBuffer(value)).find((n) => n.type === asn1.Type.INTEGER);
  return limit ? asn1.derToInteger(bytesOf(limit)) : undefined;
}

/**
 * `X509Certificate.subject` as a map; a repeated attribute keeps its last value. Node prints
 * one RDN per line and the attributes of a multi-valued RDN joined by " + " (a "+" inside
 * a value is escaped as "\+", RFC 2253).
 */
export function subjectFields(subject: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const attribute of subject.split('\n').flatMap((rdn) => rdn.split(' + '))) {
    const eq = attribute.indexOf('=');
    if (eq > 0) fields.set(attribute.slice(0, eq), attribute.slice(eq + 1));
  }
  return fields;
}

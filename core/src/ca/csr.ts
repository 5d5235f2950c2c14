/**
 * Certificate signing requests: keys never leave the process that uses them, so every
 * identity is issued from a CSR. {@link createCsr} is for proxies, gateways, zones and
 * tests; {@link validateCsr} is what the CA runs on every incoming request.
 *
 * Both work on the PKCS#10 DER directly with forge's `asn1` module (RFC 2986): forge's
 * CSR object only knows RSA keys, and ECDSA P-256 is our default key type.
 */
import { createPublicKey, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { InvalidArgumentError, PermissionDeniedError } from '../errors.ts';
import type { CertificateKeyType, KeyPair } from './keys.ts';
import { certificateKeyType } from './keys.ts';
import { derToPem, signTbs } from './signing.ts';
import { parseSpiffeId } from './spiffe.ts';
import {
  ECDSA_WITH_SHA256,
  EXTENSION_REQUEST,
  SHA256_WITH_RSA,
  SUBJECT_ALT_NAME,
  bytesOf,
  childrenOf,
  derChildren,
  extensionsAsn1,
  fromDerBuffer,
  nameAsn1,
  oidOf,
  spkiDerOf,
  subjectPublicKey,
} from './x509.ts';

const { asn1 } = forge;
const URI = 6;

const SIGNATURE_ALGORITHM: Record<CertificateKeyType, { oid: string; name: string }> = {
  rsa: { oid: SHA256_WITH_RSA, name: 'sha256WithRSAEncryption' },
  ec: { oid: ECDSA_WITH_SHA256, name: 'ecdsa-with-SHA256' },
};

export interface CreateCsrOptions {
  /** An EC (P-256) or RSA key pair. */
  keyPair: KeyPair;
  /** The URI SAN to request. */
  spiffeId: string;
  /** Extra SANs, for tests of the refusal path only. */
  extraAltNames?: { type: number; value: string }[];
}

/** A PEM CSR for `spiffeId`, signed by `keyPair.privateKey` with Node's crypto. */
export function createCsr(options: CreateCsrOptions): string {
  const altNames = [{ type: URI, value: options.spiffeId }, ...(options.extraAltNames ?? [])];
  // certificateExtensionsToAsn1 gives `[3] { SEQUENCE OF Extension }`; a CSR wants the SEQUENCE.
  const extensions = childrenOf(extensionsAsn1([{ name: 'subjectAltName', altNames }]))[0];
  if (!extensions) throw new Error('forge encoded no extensions');
  const { UNIVERSAL, CONTEXT_SPECIFIC } = asn1.Class;
  const info = asn1.create(UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(0).getBytes()),
    nameAsn1([{ name: 'commonName', value: 'causeway' }]),
    subjectPublicKey(spkiDerOf(options.keyPair.publicKey)).spki,
    // attributes [0] IMPLICIT SET OF Attribute: one extensionRequest.
    asn1.create(CONTEXT_SPECIFIC, 0, true, [
      asn1.create(UNIVERSAL, asn1.Type.SEQUENCE, true, [
        asn1.create(UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(EXTENSION_REQUEST).getBytes()),
        asn1.create(UNIVERSAL, asn1.Type.SET, true, [extensions]),
      ]),
    ]),
  ]);
  return derToPem(signTbs(info, options.keyPair.privateKey), 'CERTIFICATE REQUEST');
}

/** A CSR that passed {@link validateCsr}. */
export interface ValidatedCsr {
  /** The requester's key. */
  publicKey: KeyObject;
  /** That key as the CSR encodes it (DER SubjectPublicKeyInfo), for the certificate. */
  subjectPublicKeyInfo: Buffer;
  keyType: CertificateKeyType;
  spiffeId: string;
}

/**
 * Check an incoming CSR before signing it: it parses, its key is EC on P-256 or RSA of
 * 2048..8192 bits, its self-signature is SHA-256 with the algorithm of that key and
 * verifies, and it requests exactly one SAN, a URI equal to `expectedSpiffeId` (the
 * identity the caller's token is entitled to).
 *
 * @throws InvalidArgumentError (field `csr`) for a malformed, weak or badly signed CSR.
 * @throws PermissionDeniedError when it asks for another identity or for extra names.
 */
export function validateCsr(csrPem: string, expectedSpiffeId: string): ValidatedCsr {
  parseSpiffeId(expectedSpiffeId, 'expectedSpiffeId');
  const csr = parseCsr(csrPem);
  const keyType = certificateKeyType(csr.publicKey, 'CSR key', 'csr');
  const expected = SIGNATURE_ALGORITHM[keyType];
  if (csr.signatureOid !== expected.oid) {
    throw new InvalidArgumentError(
      `CSR is signed with ${algorithmName(csr.signatureOid)}, but its ${keyType.toUpperCase()} key requires ${expected.name}`,
      'csr',
    );
  }
  // Verify over the exact bytes that were signed, as received.
  if (!verify('sha256', csr.info, csr.publicKey, csr.signature)) {
    throw new InvalidArgumentError('CSR signature does not verify', 'csr');
  }

  const uris = csr.altNames.filter((n) => n.type === URI).map((n) => n.value);
  if (uris.length !== 1) {
    throw new PermissionDeniedError(
      `CSR must request exactly one URI SAN (${expectedSpiffeId}); it requests ${uris.length}`,
    );
  }
  if (csr.altNames.length !== 1) {
    throw new PermissionDeniedError(
      `CSR may request only the URI SAN ${expectedSpiffeId}; it also requests ${csr.altNames.length - 1} other name(s)`,
    );
  }
  if (uris[0] !== expectedSpiffeId) {
    throw new PermissionDeniedError(
      `CSR requests ${JSON.stringify(uris[0])} but the caller is entitled only to ${expectedSpiffeId}`,
    );
  }
  return {
    publicKey: csr.publicKey,
    subjectPublicKeyInfo: csr.spki,
    keyType,
    spiffeId: expectedSpiffeId,
  };
}

interface AltName {
  /** The GeneralName tag: 6 for a URI, 2 for DNS, … */
  type: number;
  /** Raw contents (IA5String text for URIs). */
  value: string;
}

interface ParsedCsr {
  /** CertificationRequestInfo, byte for byte as received. */
  info: Buffer;
  /** DER SubjectPublicKeyInfo, as received. */
  spki: Buffer;
  publicKey: KeyObject;
  signatureOid: string;
  signature: Buffer;
  altNames: AltName[];
}

function parseCsr(csrPem: string): ParsedCsr {
  try {
    const match =
      /-----BEGIN (NEW )?CERTIFICATE REQUEST-----([\s\S]+?)-----END \1?CERTIFICATE REQUEST-----/.exec(
        csrPem,
      );
    if (!match?.[2]) throw new Error('no PEM CERTIFICATE REQUEST block');
    const der = Buffer.from(match[2].replace(/\s+/g, ''), 'base64');
    const [info, algorithm, signature, ...rest] = derChildren(der);
    if (!info || !algorithm || !signature || rest.length > 0) {
      throw new Error('CertificationRequest is not SEQUENCE { info, algorithm, signature }');
    }
    const [version, , spki, attributes] = childrenOf(fromDerBuffer(info));
    if (bytesOf(version) !== '\0') throw new Error('version is not 0 (v1)');
    if (!spki || !attributes) throw new Error('CertificationRequestInfo is too short');
    const bits = bytesOf(fromDerBuffer(signature));
    if (!bits.startsWith('\0')) throw new Error('signature BIT STRING has unused bits');
    const spkiDer = derChildren(info)[2];
    if (!spkiDer) throw new Error('CertificationRequestInfo has no SubjectPublicKeyInfo');
    return {
      info,
      spki: spkiDer,
      publicKey: createPublicKey({ key: spkiDer, format: 'der', type: 'spki' }),
      signatureOid: oidOf(childrenOf(fromDerBuffer(algorithm))[0]),
      signature: Buffer.from(bits.slice(1), 'binary'),
      altNames: requestedAltNames(attributes),
    };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new InvalidArgumentError(`CSR cannot be parsed: ${why}`, 'csr');
  }
}

/** Every GeneralName in every subjectAltName of every extensionRequest attribute. */
function requestedAltNames(attributes: forge.asn1.Asn1): AltName[] {
  const names: AltName[] = [];
  for (const attribute of childrenOf(attributes)) {
    const [type, values] = childrenOf(attribute);
    if (oidOf(type) !== EXTENSION_REQUEST) continue;
    for (const extensions of childrenOf(values)) {
      for (const extension of childrenOf(extensions)) {
        const parts = childrenOf(extension);
        if (oidOf(parts[0]) !== SUBJECT_ALT_NAME) continue;
        const generalNames = fromDerBuffer(Buffer.from(bytesOf(parts.at(-1)), 'binary'));
        for (const name of childrenOf(generalNames)) {
          // Constructed GeneralNames (directoryName, otherName …) count, with no value.
          names.push({ type: name.type, value: typeof name.value === 'string' ? name.value : '' });
        }
      }
    }
  }
  return names;
}

function algorithmName(oid: string): string {
  const ours = Object.values(SIGNATURE_ALGORITHM).find((a) => a.oid === oid);
  const name = ours?.name ?? forge.pki.oids[oid];
  return name === undefined ? oid : `${name} (${oid})`;
}

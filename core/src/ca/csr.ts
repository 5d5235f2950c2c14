/**
 * Certificate signing requests: keys never leave the process that uses them, so every
 * identity is issued from a CSR. {@link createCsr} is for proxies, gateways, zones and
 * tests; {@link validateCsr} is what the CA runs on every incoming request.
 */
import { createPublicKey, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { InvalidArgumentError, PermissionDeniedError } from '../errors.ts';
import type { KeyPair } from './keys.ts';
import {
  SHA256_WITH_RSA,
  certificationRequestInfo,
  derToPem,
  signTbs,
  toDerBuffer,
  toForgePublicKey,
} from './signing.ts';
import { parseSpiffeId } from './spiffe.ts';

/** The smallest RSA modulus the CA signs. */
export const MIN_RSA_BITS = 2048;

const URI = 6;

export interface CreateCsrOptions {
  keyPair: KeyPair;
  /** The URI SAN to request. */
  spiffeId: string;
  /** Extra SANs, for tests of the refusal path only. */
  extraAltNames?: { type: number; value: string }[];
}

/** A PEM CSR for `spiffeId`, signed by `keyPair.privateKey` with Node's crypto. */
export function createCsr(options: CreateCsrOptions): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = toForgePublicKey(options.keyPair.publicKey);
  csr.setSubject([{ name: 'commonName', value: 'causeway' }]);
  csr.setAttributes([
    {
      name: 'extensionRequest',
      extensions: [
        {
          name: 'subjectAltName',
          altNames: [{ type: URI, value: options.spiffeId }, ...(options.extraAltNames ?? [])],
        },
      ],
    },
  ]);
  const info = certificationRequestInfo(csr);
  return derToPem(signTbs(info, options.keyPair.privateKey), 'CERTIFICATE REQUEST');
}

/** A CSR that passed {@link validateCsr}. */
export interface ValidatedCsr {
  /** The requester's key, as forge needs it to build the certificate. */
  forgePublicKey: forge.pki.rsa.PublicKey;
  publicKey: KeyObject;
  spiffeId: string;
}

interface ForgeCsrParsed {
  certificationRequestInfo?: forge.asn1.Asn1;
  signatureOid?: string | null;
  signature?: string;
}

/**
 * Check an incoming CSR before signing it: parses, RSA key of at least
 * {@link MIN_RSA_BITS}, a valid SHA-256 self-signature, and exactly one SAN, a URI equal to
 * `expectedSpiffeId` (the identity the caller's token is entitled to).
 *
 * @throws InvalidArgumentError (field `csr`) for a malformed, weak or badly signed CSR.
 * @throws PermissionDeniedError when it asks for another identity or for extra names.
 */
export function validateCsr(csrPem: string, expectedSpiffeId: string): ValidatedCsr {
  parseSpiffeId(expectedSpiffeId, 'expectedSpiffeId');
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem, true);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    // forge refuses non-RSA keys while parsing ("OID is not RSA").
    const hint = /not RSA/i.test(why) ? 'the key must be RSA' : why;
    throw new InvalidArgumentError(`CSR cannot be parsed: ${hint}`, 'csr');
  }
  const publicKey = csr.publicKey as forge.pki.rsa.PublicKey | null;
  if (!publicKey) throw new InvalidArgumentError('CSR has no public key', 'csr');
  const bits = publicKey.n.bitLength();
  if (bits < MIN_RSA_BITS) {
    throw new InvalidArgumentError(
      `CSR key is RSA-${bits}; at least RSA-${MIN_RSA_BITS} is required`,
      'csr',
    );
  }
  const parsed = csr as unknown as ForgeCsrParsed;
  if (parsed.signatureOid !== SHA256_WITH_RSA) {
    throw new InvalidArgumentError('CSR must be signed with sha256WithRSAEncryption', 'csr');
  }
  const nodeKey = createPublicKey({
    key: toDerBuffer(forge.pki.publicKeyToAsn1(publicKey)),
    format: 'der',
    type: 'spki',
  });
  // Verify over the exact bytes that were signed, as captured by the parser.
  const info = parsed.certificationRequestInfo;
  const signature = parsed.signature;
  if (
    !info ||
    signature === undefined ||
    !verify('sha256', toDerBuffer(info), nodeKey, Buffer.from(signature, 'binary'))
  ) {
    throw new InvalidArgumentError('CSR signature does not verify', 'csr');
  }

  const altNames = requestedAltNames(csr);
  const uris = altNames.filter((n) => n.type === URI).map((n) => n.value ?? '');
  if (uris.length !== 1) {
    throw new PermissionDeniedError(
      `CSR must request exactly one URI SAN (${expectedSpiffeId}); it requests ${uris.length}`,
    );
  }
  if (altNames.length !== 1) {
    throw new PermissionDeniedError(
      `CSR may request only the URI SAN ${expectedSpiffeId}; it also requests ${altNames.length - 1} other name(s)`,
    );
  }
  if (uris[0] !== expectedSpiffeId) {
    throw new PermissionDeniedError(
      `CSR requests ${JSON.stringify(uris[0])} but the caller is entitled only to ${expectedSpiffeId}`,
    );
  }
  return { forgePublicKey: publicKey, publicKey: nodeKey, spiffeId: expectedSpiffeId };
}

interface AltName {
  type: number;
  value?: string;
}

function requestedAltNames(csr: forge.pki.CertificateSigningRequest): AltName[] {
  const attr = csr.getAttribute({ name: 'extensionRequest' }) as {
    extensions?: { name?: string; altNames?: AltName[] }[];
  } | null;
  return (attr?.extensions ?? [])
    .filter((e) => e.name === 'subjectAltName')
    .flatMap((e) => e.altNames ?? []);
}

/**
 * The global control plane's own identity, `spiffe://<td>/global`: a leaf the global root
 * signs directly (no zone intermediate lies between them), which the global's zone sync
 * server presents and with which it may dial out.
 *
 * Why not under an intermediate: every intermediate belongs to a zone (`OU=zone/<zone>`),
 * and the global belongs to none. Why peers must check the issuer themselves: OpenSSL
 * enforces only the trust domain through the intermediates' name constraints (see
 * `certificates.ts`), so a compromised zone key could mint a `…/global` leaf that plain TLS
 * accepts. {@link verifyGlobalChain} and {@link globalServerIdentityCheck} accept the
 * global's identity only when a root of the bundle signed it directly.
 *
 * The root pin ({@link certificatePin}, SHA-256 of the root's DER, lowercase hex) is what a
 * zone token carries so a zone can trust the global's TLS server on its first connection,
 * like kubeadm's `--discovery-token-ca-cert-hash`.
 */
import { X509Certificate, createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate } from 'node:tls';
import { InvalidArgumentError, PermissionDeniedError } from '../errors.ts';
import type { IssuerCa } from './certificates.ts';
import { DEFAULT_LEAF_VALIDITY_MS, randomSerial } from './certificates.ts';
import { certificateKeyType } from './keys.ts';
import { derToPem, signTbs, signingKeyType } from './signing.ts';
import { globalSpiffeId, validateTrustDomain } from './spiffe.ts';
import { parseCertificate, peerSpiffeId, splitPem } from './verify.ts';
import {
  authorityKeyIdentifierExtension,
  fromDerBuffer,
  issuerParts,
  nameAsn1,
  signatureAlgorithm,
  spkiDerOf,
  subjectFields,
  subjectKeyIdentifierExtension,
  subjectPublicKey,
  tbsCertificate,
} from './x509.ts';

/** notBefore is backdated this much to tolerate clock skew, as for every other leaf. */
const BACKDATE_MS = 60_000;

export interface GlobalCertificateOptions {
  /** The global root: a self-signed CA certificate of the trust domain and its key. */
  root: IssuerCa;
  trustDomain: string;
  /** The key the certificate certifies; the global generates it and never stores it. */
  publicKey: KeyObject;
  /** @default 24 hours, never past the root's expiry */
  validityMs?: number;
  /** @default new Date() */
  now?: Date;
}

/** SHA-256 of a certificate's DER, lowercase hex: the "root pin" of a zone token. */
export function certificatePin(certificatePem: string): string {
  const cert = parseCertificate(certificatePem, 'certificatePem');
  return createHash('sha256').update(cert.raw).digest('hex');
}

/**
 * Sign the global control plane's leaf for `spiffe://<td>/global` with the root itself:
 * serverAuth + clientAuth, the SPIFFE ID as its only SAN.
 *
 * @throws InvalidArgumentError when `root` is not a self-signed CA of `trustDomain` with
 *   its matching key, or the public key is not EC P-256 / RSA ≥ 2048.
 */
export function signGlobalCertificate(options: GlobalCertificateOptions): string {
  const trustDomain = validateTrustDomain(options.trustDomain);
  const root = checkRoot(options.root, trustDomain);
  const keyType = certificateKeyType(options.publicKey, 'the global key', 'publicKey');
  const key = subjectPublicKey(spkiDerOf(options.publicKey));
  const parts = issuerParts(root.raw);
  const now = (options.now ?? new Date()).getTime();
  const validityMs = options.validityMs ?? DEFAULT_LEAF_VALIDITY_MS;
  if (!Number.isFinite(validityMs) || validityMs <= 0) {
    throw new InvalidArgumentError(`validityMs must be positive (got ${validityMs})`, 'validityMs');
  }
  const spiffeId = globalSpiffeId(trustDomain);
  const tbs = tbsCertificate({
    serialHex: randomSerial(),
    signatureAlgorithm: signatureAlgorithm(signingKeyType(options.root.privateKey)),
    issuer: fromDerBuffer(parts.subjectDer),
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(Math.min(now + validityMs, Date.parse(root.validTo))),
    subject: nameAsn1([
      { name: 'organizationName', value: trustDomain },
      { name: 'commonName', value: 'Causeway global control plane' },
    ]),
    subjectPublicKeyInfo: key.spki,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      // keyEncipherment is RSA key transport; EC keys must not assert it (RFC 5480 §3).
      keyType === 'rsa'
        ? { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true }
        : { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 6, value: spiffeId }] },
      subjectKeyIdentifierExtension(key.keyId),
      authorityKeyIdentifierExtension(parts.keyId),
    ],
  });
  return derToPem(signTbs(tbs, options.root.privateKey), 'CERTIFICATE');
}

export interface VerifiedGlobalLeaf {
  spiffeId: string;
  trustDomain: string;
  /** The root of the bundle that signed the leaf. */
  root: X509Certificate;
}

/**
 * Verify a certificate presented as the global control plane's: a non-CA leaf whose only
 * SAN is `spiffe://<td>/global`, valid at `now`, signed directly by one of `trustBundle`'s
 * roots. Certificates after the leaf in `chainPem` are ignored: nothing may stand between.
 *
 * @param trustDomain - when given, the leaf must be of this trust domain.
 * @throws PermissionDeniedError naming what is wrong; InvalidArgumentError for bad PEM.
 */
export function verifyGlobalChain(
  chainPem: string | readonly string[],
  trustBundle: readonly string[],
  options: { now?: Date; trustDomain?: string } = {},
): VerifiedGlobalLeaf {
  const pems = typeof chainPem === 'string' ? splitPem(chainPem) : chainPem;
  const first = pems[0];
  if (first === undefined) {
    throw new InvalidArgumentError('chain holds no certificate', 'chain');
  }
  const leaf = parseCertificate(first, 'chain');
  const roots = trustBundle.flatMap(splitPem).map((p) => parseCertificate(p, 'trustBundle'));
  return judgeGlobalLeaf(leaf, roots, options.now ?? new Date(), options.trustDomain);
}

/**
 * A `checkServerIdentity` for `tls.connect` to the global control plane: the server must
 * present `spiffe://<trustDomain>/global` signed directly by one of `rootPems` (give the
 * same roots as the connection's `ca`).
 */
export function globalServerIdentityCheck(
  trustDomain: string,
  rootPems: string | readonly string[],
): (hostname: string, cert: PeerCertificate) => Error | undefined {
  const roots = (typeof rootPems === 'string' ? [rootPems] : rootPems)
    .flatMap(splitPem)
    .map((p) => parseCertificate(p, 'rootPems'));
  return (_hostname, cert) => {
    try {
      // Node passes the detailed certificate (`getPeerCertificate(true)`), raw DER included.
      const raw = (cert as DetailedPeerCertificate).raw as Buffer | undefined;
      if (raw === undefined) {
        return new PermissionDeniedError('the global presented no certificate');
      }
      if (peerSpiffeId(cert) === undefined) {
        return new PermissionDeniedError(
          `the global's certificate must have exactly one SAN, a SPIFFE URI (got ${JSON.stringify(cert.subjectaltname ?? '')})`,
        );
      }
      judgeGlobalLeaf(new X509Certificate(raw), roots, new Date(), trustDomain);
      return undefined;
    } catch (err) {
      return err instanceof Error ? err : new PermissionDeniedError(String(err));
    }
  };
}

function judgeGlobalLeaf(
  leaf: X509Certificate,
  roots: readonly X509Certificate[],
  now: Date,
  trustDomain: string | undefined,
): VerifiedGlobalLeaf {
  const denied = (why: string) =>
    new PermissionDeniedError(`the global control plane's certificate is refused: ${why}`);
  if (leaf.ca) throw denied('it is a CA certificate');
  const spiffeId = peerSpiffeId({ subjectaltname: leaf.subjectAltName });
  const match = spiffeId === undefined ? null : /^spiffe:\/\/([^/]+)\/global$/.exec(spiffeId);
  if (!match?.[1]) {
    throw denied(
      `its identity must be spiffe://<trust-domain>/global (got ${JSON.stringify(leaf.subjectAltName ?? '')})`,
    );
  }
  const td = match[1];
  if (trustDomain !== undefined && td !== trustDomain) {
    throw denied(`it is of trust domain ${td}, not ${trustDomain}`);
  }
  const root = roots.find(
    (r) =>
      r.ca &&
      r.checkIssued(r) &&
      leaf.checkIssued(r) &&
      leaf.verify(r.publicKey) &&
      subjectFields(r.subject).get('O') === td,
  );
  if (!root) throw denied('it was not signed directly by a root of the trust bundle');
  for (const [what, cert] of [
    ['leaf', leaf],
    ['root', root],
  ] as const) {
    if (now < new Date(cert.validFrom))
      throw denied(`the ${what} is not valid before ${cert.validFrom}`);
    if (now > new Date(cert.validTo)) throw denied(`the ${what} expired at ${cert.validTo}`);
  }
  return { spiffeId: spiffeId as string, trustDomain: td, root };
}

function checkRoot(root: IssuerCa, trustDomain: string): X509Certificate {
  const cert = parseCertificate(root.certificatePem, 'root');
  if (!cert.ca || !cert.checkIssued(cert) || !cert.verify(cert.publicKey)) {
    throw new InvalidArgumentError(
      'the global certificate must be signed by a self-signed root CA',
      'root',
    );
  }
  const fields = subjectFields(cert.subject);
  if (fields.get('OU')?.startsWith('zone/')) {
    throw new InvalidArgumentError('a zone intermediate cannot sign the global identity', 'root');
  }
  if (fields.get('O') !== trustDomain) {
    throw new InvalidArgumentError(
      `the root is of ${fields.get('O') ?? '(no O=)'}, not of the trust domain ${trustDomain}`,
      'root',
    );
  }
  if (!createPublicKey(root.privateKey).equals(cert.publicKey)) {
    throw new InvalidArgumentError('the root key does not match the root certificate', 'root');
  }
  return cert;
}

/**
 * Verifying SPIFFE identities in certificate chains.
 *
 * Node's `tls` checks signatures, dates and (through OpenSSL) our trust-domain name
 * constraint, but its hostname check ignores URI SANs and OpenSSL cannot express a
 * per-zone URI path constraint. These helpers close both gaps: {@link verifyLeafChain}
 * for chains received out of band (CSR flows, APIs), {@link spiffeServerIdentityCheck}
 * for `tls.connect`. Everything here goes through `X509Certificate` and OpenSSL, so RSA and
 * ECDSA chains, and mixes of the two, verify alike.
 */
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { InvalidArgumentError, PermissionDeniedError } from '../errors.ts';
import type { ZoneSpiffeId } from './spiffe.ts';
import { parseSpiffeId } from './spiffe.ts';
import { pathLengthConstraint, subjectFields } from './x509.ts';

/** Leaf, zone intermediate, and up to three provided intermediates above it. */
const MAX_CHAIN = 5;

export interface VerifyOptions {
  /** @default new Date() */
  now?: Date;
}

export interface VerifiedLeaf {
  spiffeId: string;
  id: ZoneSpiffeId;
  /** The root in the bundle that anchors the chain. */
  root: X509Certificate;
}

/**
 * Verify `leaf ← zone intermediate [← provided intermediates…] ← root` where the root is
 * one of `trustBundle`: signatures, issuer/subject linkage, validity at `now`, CA flags,
 * the leaf's single SPIFFE URI SAN, and that it lies inside the zone intermediate's zone
 * (`OU=zone/<zone>`, same trust domain). Intermediates above the zone's come from a
 * provided (imported) intermediate CA.
 *
 * @param chainPem - the leaf first, then its zone intermediate, then any intermediates
 *   above it (a PEM bundle or a list).
 * @returns the leaf's SPIFFE ID.
 * @throws PermissionDeniedError when the chain is not trusted or the identity is not
 *   permitted; InvalidArgumentError when the input cannot be parsed.
 */
export function verifyLeafChain(
  chainPem: string | readonly string[],
  trustBundle: readonly string[],
  options: VerifyOptions = {},
): VerifiedLeaf {
  const now = options.now ?? new Date();
  const chain = (typeof chainPem === 'string' ? splitPem(chainPem) : chainPem).map((p) =>
    parseCertificate(p, 'chain'),
  );
  const [leaf, intermediate] = chain;
  if (!leaf || !intermediate || chain.length > MAX_CHAIN) {
    throw new InvalidArgumentError(
      `chain must be the leaf, its zone intermediate and at most ${MAX_CHAIN - 2} intermediates above it (got ${chain.length} certificates)`,
      'chain',
    );
  }
  const roots = trustBundle.flatMap(splitPem).map((p) => parseCertificate(p, 'trustBundle'));

  if (leaf.ca) throw denied('the leaf is a CA certificate');
  const cas = chain.slice(1);
  for (const ca of cas) if (!ca.ca) throw denied('an intermediate is not a CA certificate');
  // `a.checkIssued(b)` asks "was a issued by b?" (subject/issuer names and key ids).
  if (!leaf.checkIssued(intermediate) || !leaf.verify(intermediate.publicKey)) {
    throw denied('the leaf was not signed by the intermediate');
  }
  for (let i = 1; i < cas.length; i++) {
    const child = cas[i - 1] as X509Certificate;
    const parent = cas[i] as X509Certificate;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw denied(`intermediate ${i} was not signed by intermediate ${i + 1} of the chain`);
    }
  }
  const top = cas[cas.length - 1] as X509Certificate;
  const root = roots.find((r) => r.ca && top.checkIssued(r) && top.verify(r.publicKey));
  if (!root) throw denied('the intermediate was not signed by any root in the trust bundle');
  // Path lengths, as OpenSSL checks them: a zone intermediate (pathLen 0) must not be able
  // to mint a sub-CA that names another zone and have us accept its leaves.
  for (const [i, ca] of [...cas, root].entries()) {
    const limit = pathLengthConstraint(ca.raw);
    if (limit !== undefined && limit < i) {
      throw denied(`a CA with path length ${limit} has ${i} CAs below it`);
    }
    if (i > 0 && subjectFields(ca.subject).get('OU')?.startsWith('zone/')) {
      throw denied('a zone intermediate may only sign leaves, not other CAs');
    }
  }
  for (const [what, cert] of [
    ['leaf', leaf],
    ...cas.map((c) => ['intermediate', c] as const),
    ['root', root],
  ] as const) {
    if (now < new Date(cert.validFrom))
      throw denied(`the ${what} is not valid before ${cert.validFrom}`);
    if (now > new Date(cert.validTo)) throw denied(`the ${what} expired at ${cert.validTo}`);
  }

  const spiffeId = singleUriSan(leaf.subjectAltName);
  let id: ZoneSpiffeId;
  try {
    id = parseSpiffeId(spiffeId, 'leaf.subjectAltName');
  } catch (err) {
    throw denied(`the leaf identity is not a Causeway SPIFFE ID: ${(err as Error).message}`);
  }
  const scope = subjectFields(intermediate.subject);
  if (scope.get('O') !== id.trustDomain || scope.get('OU') !== `zone/${id.zone}`) {
    throw denied(
      `${spiffeId} is outside the intermediate's scope (O=${scope.get('O')}, OU=${scope.get('OU')})`,
    );
  }
  return { spiffeId, id, root };
}

/** The SPIFFE ID of a TLS peer: its only URI SAN, or undefined. */
export function peerSpiffeId(
  cert: Pick<PeerCertificate, 'subjectaltname'> | undefined,
): string | undefined {
  try {
    return singleUriSan(cert?.subjectaltname);
  } catch {
    return undefined;
  }
}

/**
 * A `checkServerIdentity` for `tls.connect` that accepts the server only if its URI SAN
 * is one of `expected` (Node's default check looks at DNS names and ignores URIs).
 */
export function spiffeServerIdentityCheck(
  expected: string | readonly string[],
): (hostname: string, cert: PeerCertificate) => Error | undefined {
  const allowed = new Set(typeof expected === 'string' ? [expected] : expected);
  return (_hostname, cert) => {
    const actual = peerSpiffeId(cert);
    if (actual !== undefined && allowed.has(actual)) return undefined;
    const err = new PermissionDeniedError(
      `peer identity ${actual ?? '(none)'} is not ${[...allowed].join(' or ')}`,
    );
    return err;
  };
}

function singleUriSan(subjectAltName: string | undefined): string {
  // Node renders SANs as `URI:spiffe://…, DNS:…`; SPIFFE IDs contain no ", ".
  const names = (subjectAltName ?? '').split(', ').filter((n) => n !== '');
  const uris = names.filter((n) => n.startsWith('URI:')).map((n) => n.slice(4));
  if (uris.length !== 1 || names.length !== 1) {
    throw denied(
      `the leaf must have exactly one SAN, a SPIFFE URI (got ${JSON.stringify(subjectAltName ?? '')})`,
    );
  }
  return uris[0] as string;
}

/** The PEM certificates in a bundle, in order. */
export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Parse a PEM certificate; InvalidArgumentError naming `field` when it is not one. */
export function parseCertificate(pem: string, field: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new InvalidArgumentError(
      `${field}: not a PEM certificate (${(err as Error).message})`,
      field,
    );
  }
}

function denied(why: string): PermissionDeniedError {
  return new PermissionDeniedError(`certificate chain refused: ${why}`);
}

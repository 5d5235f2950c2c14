/**
 * The proxy's mesh identity: the one TLS secure context (leaf + chain, key, trust bundle)
 * that inbound and outbound both use, and the SPIFFE checks TLS itself cannot make.
 *
 * `update()` swaps in a new context atomically; listeners and connectors read
 * `secureContext()` per new connection, so renewals and rotations apply to new
 * connections and never disturb established ones.
 *
 * Peer verdicts are cached per leaf fingerprint: a pooled or resumed connection to a peer
 * already seen costs one map lookup (plus the revocation check, which follows the current
 * list). A resumed TLS session carries the peer's leaf but not its issuer chain; for a
 * peer not seen before, the zone check reads the leaf's issuer name instead (see `#judge`).
 */
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { DetailedPeerCertificate, PeerCertificate, SecureContext, TLSSocket } from 'node:tls';
import {
  PermissionDeniedError,
  RevocationList,
  normalizeSerial,
  parseSpiffeId,
  peerSpiffeId,
  splitPem,
} from '../../../core/index.ts';
import type { MeshTls, PeerIdentity } from '../mesh-tls.ts';

/** What a zone sends (leaf, bundle frames) or a bootstrap file holds. */
export interface IdentityMaterial {
  /** Our leaf (PEM). */
  certificatePem: string;
  /** The intermediates above it (PEM bundle); a copy of the leaf at its start is ignored. */
  chainPem: string;
  /** Our private key (PKCS#8 PEM). */
  keyPem: string;
  /** The trust bundle. */
  roots: readonly string[];
  /** Revoked leaf serials (hex). */
  revokedSerials: readonly string[];
}

export interface TlsIdentityOptions {
  trustDomain: string;
  /**
   * Verdicts kept per peer leaf before the cache starts over.
   * @default 10000
   */
  maxCachedPeers?: number;
}

/** A cached verdict on one peer leaf: its identity, or why it is refused for any use. */
interface Verdict {
  identity: PeerIdentity | undefined;
  refusal: Error | undefined;
  /** Normalised serial, checked against the current revocation list on each use. */
  serial: string;
  /**
   * The fingerprint of the root the peer's chain was verified up to, checked against the
   * current bundle on each use; undefined when judged without the chain (a resumed session).
   */
  anchor: string | undefined;
}

const kRootsGeneration = Symbol('rootsGeneration');

/** A socket tagged with the bundle generation it was first checked under. */
type CheckedSocket = TLSSocket & { [kRootsGeneration]?: number };

export class TlsIdentity implements MeshTls {
  readonly trustDomain: string;
  readonly #maxCachedPeers: number;
  #context: SecureContext | undefined;
  #revoked = new RevocationList();
  /** Fingerprints (SHA-256, as `fingerprint256` gives them) of the roots in the bundle. */
  #roots = new Set<string>();
  /** Bumped whenever the set of roots changes. */
  #rootsGeneration = 0;
  #material: IdentityMaterial | undefined;
  #notAfter: Date | undefined;
  readonly #verdicts = new Map<string, Verdict>();
  readonly #listeners = new Set<() => void>();

  constructor(options: TlsIdentityOptions) {
    this.trustDomain = options.trustDomain;
    this.#maxCachedPeers = options.maxCachedPeers ?? 10_000;
  }

  ready(): boolean {
    return this.#context !== undefined;
  }

  /** The material in use (for status and config dumps; the key stays inside). */
  material(): Omit<IdentityMaterial, 'keyPem'> | undefined {
    if (!this.#material) return undefined;
    const { keyPem: _key, ...rest } = this.#material;
    return rest;
  }

  /** When our leaf expires (undefined before the first update). */
  notAfter(): Date | undefined {
    return this.#notAfter;
  }

  secureContext(): SecureContext {
    if (!this.#context) throw new PermissionDeniedError('the proxy has no certificate yet');
    return this.#context;
  }

  /**
   * Install a new leaf, bundle or revocation list and notify listeners. Throws (leaving
   * the previous context in use) when the key does not match the leaf or a PEM is bad.
   *
   * @param ticketKeys - 48 bytes that seal TLS session tickets, for processes that serve
   *   one listener together (`--workers`) so that a ticket one issued resumes on another.
   *   Pass fresh keys with every update: a ticket must not outlive the material it was
   *   issued under (see {@link checkPeer}). Without them the context makes its own.
   */
  update(material: IdentityMaterial, ticketKeys?: Buffer): void {
    const leaf = splitPem(material.certificatePem)[0];
    if (leaf === undefined) {
      throw new PermissionDeniedError('the identity has no leaf certificate');
    }
    const chain = splitPem(material.chainPem).filter((pem) => pem !== leaf);
    const revoked = new RevocationList(material.revokedSerials);
    const context = createSecureContext({
      cert: [leaf, ...chain].join('\n'),
      key: material.keyPem,
      ca: [...material.roots],
      minVersion: 'TLSv1.3',
      // OpenSSL refuses to resume a session on a server that requests client certificates
      // unless the context has a session ID context (it aborts with internal_error).
      // tls.Server sets one on contexts it builds itself; ours are built here.
      sessionIdContext: 'causeway-mesh',
      ...(ticketKeys !== undefined ? { ticketKeys } : {}),
    });
    const roots = new Set(material.roots.map((pem) => new X509Certificate(pem).fingerprint256));
    this.#context = context;
    this.#revoked = revoked;
    this.#material = material;
    const leafCert = new X509Certificate(leaf);
    this.#notAfter = new Date(leafCert.validTo);
    this.#leafFingerprint = leafCert.fingerprint256;
    if (roots.size !== this.#roots.size || [...roots].some((r) => !this.#roots.has(r))) {
      // Verdicts were reached under the old bundle; peers are judged again (and those
      // whose chain led to a removed root are refused, see checkPeer).
      this.#roots = roots;
      this.#rootsGeneration++;
      this.#verdicts.clear();
    }
    for (const listener of [...this.#listeners]) listener();
  }

  leafFingerprint(): string | undefined {
    return this.#leafFingerprint;
  }

  #leafFingerprint: string | undefined;

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  checkPeer(
    socket: TLSSocket,
    expected?: { service: string; namespace: string },
  ): PeerIdentity | Error {
    // The leaf alone is enough to find a cached verdict; the chain is built only on a miss.
    const leaf = socket.getPeerCertificate(false) as PeerCertificate | null;
    if (leaf === null || leaf.fingerprint256 === undefined) {
      return new PermissionDeniedError(
        socket.isSessionReused()
          ? 'the resumed session carries no peer certificate (the connector must vouch for it)'
          : 'the peer presented no certificate',
      );
    }
    const checked = socket as CheckedSocket;
    const firstChecked = (checked[kRootsGeneration] ??= this.#rootsGeneration);
    let verdict = this.#verdicts.get(leaf.fingerprint256);
    if (verdict === undefined) {
      const reused = socket.isSessionReused();
      verdict = this.#judge(socket.getPeerCertificate(true), reused);
      // A resumed session without the chain is judged again on the next full handshake.
      if (verdict.refusal === undefined || !reused) {
        if (this.#verdicts.size >= this.#maxCachedPeers) this.#verdicts.clear();
        this.#verdicts.set(leaf.fingerprint256, verdict);
      }
    }
    if (verdict.refusal !== undefined) return verdict.refusal;
    const identity = verdict.identity as PeerIdentity;
    if (
      verdict.anchor !== undefined
        ? !this.#roots.has(verdict.anchor)
        : firstChecked !== this.#rootsGeneration
    ) {
      // The root this connection's chain was verified against left the bundle (or, for a
      // resumed session without a chain, may have): the connection is no longer trusted.
      return new PermissionDeniedError(
        `peer ${identity.spiffeId}: its chain does not lead to a root in the current trust bundle`,
      );
    }
    if (this.#revoked.isRevoked({ serialNumber: verdict.serial })) {
      return new PermissionDeniedError(
        `peer ${identity.spiffeId}: leaf ${verdict.serial} is revoked`,
      );
    }
    if (
      expected !== undefined &&
      (identity.service !== expected.service || identity.namespace !== expected.namespace)
    ) {
      return new PermissionDeniedError(
        `peer ${identity.spiffeId} is not ${expected.namespace}/${expected.service}`,
      );
    }
    return identity;
  }

  #judge(leaf: DetailedPeerCertificate, resumed: boolean): Verdict {
    const serial = normalizeSerial(leaf.serialNumber);
    const refuse = (why: string): Verdict => ({
      identity: undefined,
      refusal: new PermissionDeniedError(`peer refused: ${why}`),
      serial,
      anchor: undefined,
    });
    const spiffeId = peerSpiffeId(leaf);
    if (spiffeId === undefined) {
      return refuse(
        `the leaf must have exactly one SAN, a SPIFFE URI (got ${JSON.stringify(leaf.subjectaltname ?? '')})`,
      );
    }
    let id;
    try {
      id = parseSpiffeId(spiffeId, 'peer');
    } catch (err) {
      return refuse(`${spiffeId} is not a Causeway SPIFFE ID (${(err as Error).message})`);
    }
    if (id.kind !== 'workload') return refuse(`${spiffeId} is not a workload identity`);
    if (id.trustDomain !== this.trustDomain) {
      return refuse(`${spiffeId} is outside the trust domain ${this.trustDomain}`);
    }
    // The intermediate that signed the leaf must be the CA of the leaf's zone: name
    // constraints in the chain only pin the trust domain (see core/src/ca/certificates.ts).
    const issuer = leaf.issuerCertificate as DetailedPeerCertificate | undefined;
    const hasIssuer = issuer !== undefined && issuer !== leaf && issuer.raw !== undefined;
    if (!hasIssuer && !resumed) return refuse(`${spiffeId}: the peer sent no intermediate`);
    // A resumed session keeps only the peer's leaf, so a process that did not see the full
    // handshake (another worker sharing the ticket keys, or after the verdict cache
    // started over) has no issuer certificate. The leaf's issuer name serves: the ticket
    // was sealed by one of our contexts after TLS verified the chain up to the current
    // roots, which ties that name to the intermediate's subject, and ticket keys change
    // with every identity update.
    const scope = (hasIssuer ? issuer.subject : leaf.issuer) as unknown as Record<
      string,
      string | string[] | undefined
    >;
    if (scope.O !== this.trustDomain || scope.OU !== `zone/${id.zone}`) {
      return refuse(
        `${spiffeId} is outside its issuer's scope (O=${String(scope.O)}, OU=${String(scope.OU)})`,
      );
    }
    return {
      identity: { spiffeId, service: id.service, namespace: id.namespace, zone: id.zone },
      refusal: undefined,
      serial,
      anchor: hasIssuer ? anchorOf(leaf) : undefined,
    };
  }
}

/**
 * The fingerprint of the self-signed root at the top of a verified peer chain (Node
 * completes the chain from the context's CA store), or undefined when the chain stops short.
 */
function anchorOf(leaf: DetailedPeerCertificate): string | undefined {
  let cert = leaf;
  for (let depth = 0; depth < 10; depth++) {
    const issuer = cert.issuerCertificate as DetailedPeerCertificate | undefined;
    if (issuer === undefined || issuer.raw === undefined) return undefined;
    if (issuer === cert || issuer.fingerprint256 === cert.fingerprint256)
      return cert.fingerprint256;
    cert = issuer;
  }
  return undefined;
}

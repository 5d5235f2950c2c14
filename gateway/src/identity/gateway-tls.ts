/**
 * The gateway's own identity (`spiffe://<td>/zone/<zone>/gateway/<name>`) as one TLS
 * secure context, and the checks a tunnel peer must pass that TLS cannot make.
 *
 * Used on both ends of a tunnel: the public listener terminates a peer gateway's TLS with
 * it (and requires the client's certificate), the tunnel pool dials peer gateways with it.
 * `update()` swaps the context atomically; new connections read `secureContext()` and
 * established ones are untouched, except that {@link onChange} listeners re-check their
 * peers with {@link stillTrusted} and close those now revoked or no longer anchored in the
 * bundle.
 *
 * Unlike the proxy's TlsIdentity, peers here are gateways, not workloads; the chain check
 * is core's `verifyLeafChain` (signatures, dates, a single SPIFFE SAN inside the zone of
 * the intermediate that signed it), which costs about a millisecond — paid once per tunnel
 * session, not per stream.
 */
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { DetailedPeerCertificate, SecureContext, TLSSocket } from 'node:tls';
import {
  PermissionDeniedError,
  RevocationList,
  derToPem,
  normalizeSerial,
  splitPem,
  verifyLeafChain,
} from '../../../core/index.ts';

/** What a bootstrap file holds or, later, a zone pushes. */
export interface GatewayIdentityMaterial {
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

/** A verified tunnel peer: a gateway of some zone. */
export interface GatewayPeerIdentity {
  spiffeId: string;
  zone: string;
  name: string;
  /** Normalised leaf serial, re-checked against each new revocation list. */
  serial: string;
  /** SHA-256 fingerprint of the root the chain led to, re-checked against each new bundle. */
  anchor: string;
}

/** What the peer must be, besides a gateway of our trust domain. */
export type PeerExpectation =
  /** A tunnel client: any other zone's gateway. */
  | { notZone: string }
  /** A tunnel server we dialled: that zone's gateway of that name. */
  | { zone: string; name: string };

export class GatewayTls {
  readonly trustDomain: string;
  #context: SecureContext | undefined;
  #material: GatewayIdentityMaterial | undefined;
  #self: { spiffeId: string; zone: string; name: string } | undefined;
  #revoked = new RevocationList();
  #roots = new Set<string>();
  readonly #listeners = new Set<() => void>();

  constructor(options: { trustDomain: string }) {
    this.trustDomain = options.trustDomain;
  }

  ready(): boolean {
    return this.#context !== undefined;
  }

  /** Our SPIFFE ID, zone and gateway name (undefined before the first update). */
  self(): { spiffeId: string; zone: string; name: string } | undefined {
    return this.#self;
  }

  /** The material in use, without the key (for `/config_dump`). */
  material(): Omit<GatewayIdentityMaterial, 'keyPem'> | undefined {
    if (!this.#material) return undefined;
    const { keyPem: _key, ...rest } = this.#material;
    return rest;
  }

  secureContext(): SecureContext {
    if (!this.#context) throw new PermissionDeniedError('the gateway has no certificate yet');
    return this.#context;
  }

  /**
   * Install a new leaf, bundle or revocation list and notify listeners. The leaf must be a
   * gateway identity in our trust domain whose chain verifies against the roots, and
   * (when given) of `expect`'s zone and name. Throws, leaving the previous context in use.
   */
  update(material: GatewayIdentityMaterial, expect: { zone?: string; name?: string } = {}): void {
    const leaf = splitPem(material.certificatePem)[0];
    if (leaf === undefined) throw new PermissionDeniedError('the identity has no leaf certificate');
    const chain = [leaf, ...splitPem(material.chainPem).filter((pem) => pem !== leaf)];
    const { spiffeId, id } = verifyLeafChain(chain, material.roots);
    if (id.kind !== 'gateway') {
      throw new PermissionDeniedError(`${spiffeId} is not a gateway identity`);
    }
    if (id.trustDomain !== this.trustDomain) {
      throw new PermissionDeniedError(
        `${spiffeId} is outside the trust domain ${this.trustDomain}`,
      );
    }
    if (expect.zone !== undefined && id.zone !== expect.zone) {
      throw new PermissionDeniedError(`${spiffeId} is not a gateway of zone ${expect.zone}`);
    }
    if (expect.name !== undefined && id.name !== expect.name) {
      throw new PermissionDeniedError(`${spiffeId} is not the gateway named ${expect.name}`);
    }
    const revoked = new RevocationList(material.revokedSerials);
    this.#context = createSecureContext({
      cert: chain.join('\n'),
      key: material.keyPem,
      ca: [...material.roots],
      minVersion: 'TLSv1.3',
      // OpenSSL refuses to resume a session on a server that requests client certificates
      // unless the context has a session ID context (tls.Server sets one on its own contexts).
      sessionIdContext: 'causeway-gateway',
    });
    this.#material = material;
    this.#self = { spiffeId, zone: id.zone, name: id.name };
    this.#revoked = revoked;
    this.#roots = new Set(material.roots.map((pem) => new X509Certificate(pem).fingerprint256));
    for (const listener of [...this.#listeners]) listener();
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Check a tunnel peer after a full handshake (TLS verified its chain up to one of our
   * roots): a gateway of our trust domain, inside its issuer's zone, not revoked, and what
   * `expect` asks for.
   * @returns the peer, or an Error saying why it is refused.
   */
  checkPeer(socket: TLSSocket, expect: PeerExpectation): GatewayPeerIdentity | Error {
    const leaf = socket.getPeerCertificate(true) as DetailedPeerCertificate | null;
    if (leaf === null || leaf.raw === undefined) {
      return new PermissionDeniedError('the peer presented no certificate');
    }
    // The chain as TLS verified it, without the self-signed root (verifyLeafChain finds it
    // in the bundle).
    const chain: string[] = [];
    let cert: DetailedPeerCertificate | undefined = leaf;
    for (let depth = 0; cert?.raw !== undefined && depth < 6; depth++) {
      const issuer = cert.issuerCertificate as DetailedPeerCertificate | undefined;
      const selfSigned: boolean =
        issuer !== undefined && (issuer === cert || issuer.fingerprint256 === cert.fingerprint256);
      if (selfSigned && depth > 0) break;
      chain.push(derToPem(cert.raw, 'CERTIFICATE'));
      cert = selfSigned ? undefined : issuer;
    }
    let verified;
    try {
      verified = verifyLeafChain(chain, this.#material?.roots ?? []);
    } catch (err) {
      return new PermissionDeniedError(`tunnel peer refused: ${(err as Error).message}`);
    }
    const { spiffeId, id } = verified;
    if (id.kind !== 'gateway') {
      return new PermissionDeniedError(`tunnel peer refused: ${spiffeId} is not a gateway`);
    }
    if (id.trustDomain !== this.trustDomain) {
      return new PermissionDeniedError(
        `tunnel peer refused: ${spiffeId} is outside the trust domain ${this.trustDomain}`,
      );
    }
    if ('notZone' in expect && id.zone === expect.notZone) {
      return new PermissionDeniedError(
        `tunnel peer refused: ${spiffeId} is a gateway of our own zone`,
      );
    }
    if ('zone' in expect && (id.zone !== expect.zone || id.name !== expect.name)) {
      return new PermissionDeniedError(
        `tunnel peer refused: ${spiffeId} is not gateway ${expect.name} of zone ${expect.zone}`,
      );
    }
    const peer: GatewayPeerIdentity = {
      spiffeId,
      zone: id.zone,
      name: id.name,
      serial: normalizeSerial(leaf.serialNumber),
      anchor: verified.root.fingerprint256,
    };
    return this.stillTrusted(peer)
      ? peer
      : new PermissionDeniedError(
          `tunnel peer refused: ${spiffeId} (leaf ${peer.serial}) is revoked`,
        );
  }

  /** Whether a peer checked earlier still passes under the current bundle and revocations. */
  stillTrusted(peer: GatewayPeerIdentity): boolean {
    return this.#roots.has(peer.anchor) && !this.#revoked.isRevoked({ serialNumber: peer.serial });
  }
}

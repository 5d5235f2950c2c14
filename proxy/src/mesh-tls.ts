/**
 * The proxy's mesh identity as the data path sees it: one secure context (leaf, key, the
 * trust bundle) for both the inbound listener and outbound connections, and the check
 * every peer must pass after the handshake. The identity module keeps it current as
 * leaves renew and bundles change; listeners read it per connection, so an update applies
 * to new connections without touching established ones.
 */
import type { SecureContext, TLSSocket } from 'node:tls';

export interface PeerIdentity {
  spiffeId: string;
  service: string;
  namespace: string;
  zone: string;
}

export interface MeshTls {
  readonly trustDomain: string;
  /** Whether a leaf is loaded; nothing is served before. */
  ready(): boolean;
  /** The current context: our leaf + chain + key, and the trust bundle as CAs. */
  secureContext(): SecureContext;
  /**
   * Check a connected peer (either side): its chain was verified by TLS against the
   * bundle; this checks what TLS cannot — exactly one SPIFFE URI SAN inside our trust
   * domain, inside the zone of the intermediate that signed it, not revoked, and, when
   * `expected` is given, that it names that service (`{service, namespace}`).
   * @returns the peer's identity, or an Error saying why it is refused.
   */
  checkPeer(
    socket: TLSSocket,
    expected?: { service: string; namespace: string },
  ): PeerIdentity | Error;
  /** Called after the context changes (renewal, new bundle, revocation). */
  onChange(listener: () => void): () => void;
  /** SHA-256 fingerprint (colon hex, as Node prints it) of our current leaf, if any. */
  leafFingerprint(): string | undefined;
}

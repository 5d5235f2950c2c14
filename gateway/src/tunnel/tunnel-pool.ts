/**
 * The gateway's outgoing tunnels: one {@link PeerTunnels} per peer zone, reconciled with
 * each config (new zones added, gateways updated in place, removed zones drained) without
 * touching streams in flight. When our identity changes (new leaf, bundle or revocation
 * list), sessions made with the old one drain and new streams get new sessions; a session
 * whose peer is no longer trusted is cut at once.
 */
import type { ClientHttp2Stream } from 'node:http2';
import { defaultTunnelSettings } from '../../../core/index.ts';
import type { GatewayConfig, Logger, TunnelSettings } from '../../../core/index.ts';
import type { GatewayTls } from '../identity/gateway-tls.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { PeerTunnels } from './peer-tunnels.ts';
import type { PeerStatus } from './peer-tunnels.ts';
import { TunnelError } from './tunnel-error.ts';

export class TunnelPool {
  readonly #zones = new Map<string, PeerTunnels>();
  /** Zones removed from the config whose sessions still carry streams. */
  readonly #retired = new Set<PeerTunnels>();
  #settings: TunnelSettings = defaultTunnelSettings();
  readonly #unsubscribe: () => void;

  constructor(
    private readonly tls: GatewayTls,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
  ) {
    this.#unsubscribe = tls.onChange(() => {
      for (const zone of [...this.#zones.values(), ...this.#retired]) zone.identityChanged();
    });
  }

  apply(config: GatewayConfig): void {
    this.#settings = config.tunnels;
    const wanted = new Map(config.peers.map((p) => [p.zone, p.gateways]));
    for (const retired of this.#retired)
      if (retired.sessionCount === 0) this.#retired.delete(retired);
    for (const [zone, tunnels] of this.#zones) {
      if (!wanted.has(zone)) {
        tunnels.remove();
        this.#zones.delete(zone);
        this.#retired.add(tunnels);
      }
    }
    for (const [zone, gateways] of wanted) {
      const existing = this.#zones.get(zone);
      if (existing) existing.update(gateways);
      else
        this.#zones.set(
          zone,
          new PeerTunnels(zone, gateways, {
            tls: this.tls,
            settings: () => this.#settings,
            metrics: this.metrics,
            logger: this.logger,
          }),
        );
    }
  }

  /** Whether `zone` is a peer zone (has gateways in the config). */
  has(zone: string): boolean {
    return this.#zones.has(zone);
  }

  /** A CONNECT stream through a gateway of `zone`, answered 200 (see PeerTunnels.open). */
  open(zone: string, authority: string): Promise<ClientHttp2Stream> {
    const tunnels = this.#zones.get(zone);
    if (tunnels === undefined) {
      return Promise.reject(new TunnelError('unknown_zone', `zone ${zone} is not a peer zone`));
    }
    return tunnels.open(authority);
  }

  status(): PeerStatus[] {
    return [...this.#zones.values()].map((z) => z.status());
  }

  /** Stop: no new streams; sessions close once their streams end. */
  close(): void {
    this.#unsubscribe();
    for (const zone of this.#zones.values()) zone.remove();
  }

  /** Sessions not yet closed, to every zone (removed ones included). */
  get sessionCount(): number {
    let n = 0;
    for (const zone of [...this.#zones.values(), ...this.#retired]) n += zone.sessionCount;
    return n;
  }

  /** Cut every session now. */
  destroy(): void {
    for (const zone of [...this.#zones.values(), ...this.#retired]) zone.destroy();
    this.#zones.clear();
    this.#retired.clear();
  }
}

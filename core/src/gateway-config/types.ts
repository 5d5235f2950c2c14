/**
 * The east-west gateway's config: which services of its zone it routes to (their sidecars'
 * inbound mTLS endpoints) and to which zones each is exported, and the gateways of the
 * other zones it keeps tunnels to. Built by the zone control plane and pushed to the
 * gateway like a proxy snapshot, or read from a static bootstrap file
 * (`causeway run gateway --bootstrap gw.yaml`); one type serves both sources.
 */
import type { HealthStatus } from '../catalog/types.ts';

export interface GatewayConfig {
  /** The sender's version of this config (shown in `/config_dump`). */
  version?: string;
  /** The gateway's own zone. */
  zone: string;
  trustDomain: string;
  /** Services of this zone the gateway routes to. */
  services: GatewayService[];
  /** Other zones' gateways, for tunnels. */
  peers: GatewayPeer[];
  tunnels: TunnelSettings;
}

export interface GatewayService {
  service: string;
  namespace: string;
  /**
   * Zones that may reach the service through this gateway: zone names, or `['*']` for
   * every zone; `[]` (the default) means not exported.
   */
  exportedTo: string[];
  /** The instances' sidecar inbound mTLS endpoints. */
  endpoints: GatewayEndpoint[];
}

export interface GatewayEndpoint {
  address: string;
  port: number;
  health: HealthStatus;
  instanceId: string;
}

export interface GatewayPeer {
  zone: string;
  /** That zone's gateways, tried in order of health (a failed one is skipped for a while). */
  gateways: PeerGateway[];
}

export interface PeerGateway {
  name: string;
  address: string;
  port: number;
}

export interface TunnelSettings {
  /** HTTP/2 sessions kept to one peer zone at most. @default 4 */
  maxSessionsPerPeer: number;
  /**
   * Concurrent CONNECT streams per session (and the peer's SETTINGS limit, when lower).
   * A new session opens only when every session is full. @default 100
   */
  maxStreamsPerSession: number;
  /** A session without streams for this long is closed. @default 60000 */
  idleTimeoutMs: number;
  /** TCP + TLS connect to a peer gateway, and to a local endpoint. @default 5000 */
  connectTimeoutMs: number;
}

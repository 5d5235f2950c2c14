/**
 * What the local and public listeners need to route a connection: the current routing
 * state, the tunnels, and where to count and log.
 */
import type { Logger } from '../../../core/index.ts';
import type { GatewayTls } from '../identity/gateway-tls.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Relays } from '../relays.ts';
import type { RoutingState } from '../routing/routing-state.ts';
import type { PeekOptions } from '../sni/peek-sni.ts';
import type { TunnelPool } from '../tunnel/tunnel-pool.ts';
import type { TunnelServer } from '../tunnel/tunnel-server.ts';

export interface ListenerContext {
  /** Undefined before the first config: connections are refused. */
  routing: () => RoutingState | undefined;
  tls: GatewayTls;
  pool: TunnelPool;
  tunnelServer: TunnelServer;
  metrics: GatewayMetrics;
  logger: Logger;
  relays: Relays;
  hello: PeekOptions;
}

/**
 * The gateway's Prometheus metrics, served on the admin port at `/stats/prometheus`. One
 * registry per gateway (not prom-client's global one), so tests can run several gateways
 * in one process. Labels stay low-cardinality: listener, mode, peer zone, reason — never a
 * service or an address.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** `local` (this zone's proxies going out) or `public` (peers and remote proxies coming in). */
export type ListenerName = 'local' | 'public';
/** `passthrough` (raw SNI routing) or `tunnel` (HTTP/2 CONNECT). */
export type Mode = 'passthrough' | 'tunnel';

/** Why a connection or a CONNECT stream was refused. */
export type RefusalReason =
  | 'bad_client_hello'
  | 'client_hello_timeout'
  | 'no_sni'
  | 'unknown_name'
  | 'unknown_zone'
  | 'unknown_service'
  | 'not_exported'
  | 'no_healthy_endpoint'
  | 'connect_failure'
  | 'peer_identity'
  | 'method_not_allowed'
  | 'tunnel_failure'
  | 'not_ready';

/**
 * Why a peer gateway did not carry a CONNECT stream, so that it was tried on another
 * gateway of the zone: it answered 503 (`unavailable`), its session could not be
 * established (`session_failure`), or it refused the stream before processing it
 * (`refused_stream`: REFUSED_STREAM, or a GOAWAY that left the stream out).
 */
export type RetryReason = 'unavailable' | 'session_failure' | 'refused_stream';

export class GatewayMetrics {
  readonly registry = new Registry();

  readonly connections = new Counter({
    name: 'causeway_gateway_connections_total',
    help: 'Connections accepted and routed, by listener and mode (tunnel on the public listener counts CONNECT streams)',
    labelNames: ['listener', 'mode'] as const,
    registers: [this.registry],
  });

  readonly activeConnections = new Gauge({
    name: 'causeway_gateway_active_connections',
    help: 'Connections (or CONNECT streams) being relayed now, by listener and mode',
    labelNames: ['listener', 'mode'] as const,
    registers: [this.registry],
  });

  readonly activeStreams = new Gauge({
    name: 'causeway_gateway_active_streams',
    help: 'Open CONNECT streams, by direction (outbound: to peer gateways, inbound: from them)',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });

  readonly tunnelSessions = new Gauge({
    name: 'causeway_gateway_tunnel_sessions',
    help: 'HTTP/2 tunnel sessions open, by peer zone and direction',
    labelNames: ['peer_zone', 'direction'] as const,
    registers: [this.registry],
  });

  readonly sessionsOpened = new Counter({
    name: 'causeway_gateway_tunnel_sessions_opened_total',
    help: 'HTTP/2 tunnel sessions opened to peer gateways, by peer zone and outcome',
    labelNames: ['peer_zone', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly tunnelRetries = new Counter({
    name: 'causeway_gateway_tunnel_retries_total',
    help: 'CONNECT streams a peer gateway did not carry that were tried on another gateway of its zone, by peer zone and reason',
    labelNames: ['peer_zone', 'reason'] as const,
    registers: [this.registry],
  });

  readonly bytes = new Counter({
    name: 'causeway_gateway_bytes_total',
    help: 'Bytes relayed, by listener, mode and direction (received from / sent to the downstream)',
    labelNames: ['listener', 'mode', 'direction'] as const,
    registers: [this.registry],
  });

  readonly refusals = new Counter({
    name: 'causeway_gateway_refusals_total',
    help: 'Connections, tunnels or CONNECT streams refused, by listener and reason',
    labelNames: ['listener', 'reason'] as const,
    registers: [this.registry],
  });

  readonly configApplied = new Counter({
    name: 'causeway_gateway_config_applied_total',
    help: 'Configs applied',
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics === true) {
      collectDefaultMetrics({ register: this.registry, prefix: 'causeway_gateway_' });
    }
  }

  refuse(listener: ListenerName, reason: RefusalReason): void {
    this.refusals.inc({ listener, reason });
  }
}

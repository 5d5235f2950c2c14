/**
 * The proxy's Prometheus metrics, served on the admin port at `/stats/prometheus`. One
 * registry per proxy process (not prom-client's global one), so tests can run several
 * proxies in one process. Names carry the `causeway_` prefix; labels stay low-cardinality
 * (listener, cluster, status class), never per endpoint address or path.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Latency buckets in seconds: sub-millisecond hops up to the 15 s route timeout. */
const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15,
];

export class ProxyMetrics {
  readonly registry = new Registry();

  /** Requests (HTTP) or connections (TCP) handled, by direction, listener/cluster and outcome. */
  readonly requests = new Counter({
    name: 'causeway_proxy_requests_total',
    help: 'Requests (HTTP) or connections (TCP) completed, by direction and response class',
    labelNames: ['direction', 'listener', 'cluster', 'code_class'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: 'causeway_proxy_request_duration_seconds',
    help: 'Time from request start to the end of the response (HTTP) or connection (TCP)',
    labelNames: ['direction', 'listener', 'cluster'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly activeConnections = new Gauge({
    name: 'causeway_proxy_active_connections',
    help: 'Open downstream connections, by direction and listener',
    labelNames: ['direction', 'listener'] as const,
    registers: [this.registry],
  });

  readonly retries = new Counter({
    name: 'causeway_proxy_retries_total',
    help: 'Retries made, by cluster and reason',
    labelNames: ['cluster', 'reason'] as const,
    registers: [this.registry],
  });

  readonly retriesSkipped = new Counter({
    name: 'causeway_proxy_retries_skipped_total',
    help: 'Retries not made because the retry budget was spent',
    labelNames: ['cluster'] as const,
    registers: [this.registry],
  });

  readonly ejections = new Counter({
    name: 'causeway_proxy_outlier_ejections_total',
    help: 'Endpoints ejected by outlier detection, by cluster and reason',
    labelNames: ['cluster', 'reason'] as const,
    registers: [this.registry],
  });

  readonly ejectedEndpoints = new Gauge({
    name: 'causeway_proxy_outlier_ejected_endpoints',
    help: 'Endpoints currently ejected, by cluster',
    labelNames: ['cluster'] as const,
    registers: [this.registry],
  });

  readonly overflows = new Counter({
    name: 'causeway_proxy_circuit_breaker_overflows_total',
    help: 'Requests refused by a circuit breaker limit, by cluster and limit',
    labelNames: ['cluster', 'limit'] as const,
    registers: [this.registry],
  });

  readonly tlsHandshakes = new Counter({
    name: 'causeway_proxy_tls_handshakes_total',
    help: 'TLS handshakes, by direction, outcome and whether the session was resumed',
    labelNames: ['direction', 'outcome', 'resumed'] as const,
    registers: [this.registry],
  });

  readonly authzDenied = new Counter({
    name: 'causeway_proxy_authz_denied_total',
    help: 'Inbound requests or connections refused by authorization',
    labelNames: ['source_service'] as const,
    registers: [this.registry],
  });

  readonly configVersion = new Gauge({
    name: 'causeway_proxy_config_version',
    help: 'Version of the config snapshot in use',
    registers: [this.registry],
  });

  readonly configRejected = new Counter({
    name: 'causeway_proxy_config_rejected_total',
    help: 'Config snapshots refused (NACKed)',
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics === true) {
      collectDefaultMetrics({ register: this.registry, prefix: 'causeway_proxy_' });
    }
  }

  /** `2xx`, `5xx`… for a status, or the TCP outcome as is (`ok`, `error`). */
  static codeClass(status: number | string): string {
    return typeof status === 'number' ? `${Math.floor(status / 100)}xx` : status;
  }
}

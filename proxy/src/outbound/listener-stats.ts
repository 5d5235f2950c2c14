/**
 * Prometheus children for one listener × cluster, resolved once: `labels()` hashes its
 * label values on every call, which is measurable on the hot path.
 */
import type { ProxyMetrics } from '../metrics.ts';

type CounterChild = ReturnType<ProxyMetrics['requests']['labels']>;
type HistogramChild = ReturnType<ProxyMetrics['requestDuration']['labels']>;

export class ListenerStats {
  /** By `status / 100` (0–5); index 6 counts requests that ended without a response. */
  readonly #byClass: CounterChild[];
  readonly #duration: HistogramChild;

  constructor(metrics: ProxyMetrics, listener: string, cluster: string) {
    const classes = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx', 'aborted'];
    this.#byClass = classes.map((codeClass) =>
      metrics.requests.labels({ direction: 'outbound', listener, cluster, code_class: codeClass }),
    );
    this.#duration = metrics.requestDuration.labels({ direction: 'outbound', listener, cluster });
  }

  /** @param status - an HTTP status, or 0 when there was no response. */
  record(status: number, seconds: number): void {
    const i = status === 0 ? 6 : Math.min(5, Math.floor(status / 100));
    (this.#byClass[i] as CounterChild).inc();
    this.#duration.observe(seconds);
  }

  /** TCP connections: outcome `ok` or `error`. */
  static tcp(metrics: ProxyMetrics, listener: string, cluster: string): TcpStats {
    return {
      ok: metrics.requests.labels({ direction: 'outbound', listener, cluster, code_class: 'ok' }),
      error: metrics.requests.labels({
        direction: 'outbound',
        listener,
        cluster,
        code_class: 'error',
      }),
      duration: metrics.requestDuration.labels({ direction: 'outbound', listener, cluster }),
    };
  }
}

export interface TcpStats {
  ok: CounterChild;
  error: CounterChild;
  duration: HistogramChild;
}

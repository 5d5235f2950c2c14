/**
 * `causeway_proxy_priority_load{cluster, priority}`: the percent of a cluster's requests
 * each priority level gets now (see `endpoint-set.ts`), so a failover shows on a dashboard
 * as the local level's share dropping. Set when a cluster's endpoint set is rebuilt, never
 * per request. With workers the primary averages the workers' values (each worker has its
 * own outlier detection, so they may differ while one has ejected an endpoint).
 *
 * Registered on the proxy's registry on first use, one gauge per `ProxyMetrics`.
 */
import { Gauge } from 'prom-client';
import type { ProxyMetrics } from '../metrics.ts';

export type PriorityLoadGauge = Gauge<'cluster' | 'priority'>;

const gauges = new WeakMap<ProxyMetrics, PriorityLoadGauge>();

export function priorityLoadGauge(metrics: ProxyMetrics): PriorityLoadGauge {
  let gauge = gauges.get(metrics);
  if (gauge === undefined) {
    gauge = new Gauge({
      name: 'causeway_proxy_priority_load',
      help: "Percent of a cluster's requests sent to each priority level",
      labelNames: ['cluster', 'priority'] as const,
      registers: [metrics.registry],
      aggregator: 'average',
    });
    gauges.set(metrics, gauge);
  }
  return gauge;
}

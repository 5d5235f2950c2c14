/**
 * A listener's routes compiled against the clusters in use: the first route whose match
 * accepts the request wins, then a weighted pick among its destinations (canary and
 * blue-green splits). Retry conditions are turned into flags once, here, rather than
 * looked up in lists per request.
 */
import type { Fault, HttpMatch, RetryPolicy, Route } from '../../../core/index.ts';
import { matchesHttp } from '../http-match.ts';
import type { RequestFacts } from '../http-match.ts';
import type { UpstreamCluster } from './upstream-cluster.ts';

export interface CompiledRetry {
  policy: RetryPolicy;
  on5xx: boolean;
  onGatewayError: boolean;
  onConnectFailure: boolean;
  onReset: boolean;
  statusCodes: ReadonlySet<number>;
}

export interface CompiledRoute {
  match: HttpMatch;
  /** An empty match: skip the matcher. */
  matchesAll: boolean;
  clusters: UpstreamCluster[];
  /** Running sums of the destinations' weights. */
  cumulative: number[];
  totalWeight: number;
  timeoutMs: number;
  retry: CompiledRetry;
  fault: Fault | undefined;
}

export function compileRoutes(
  routes: readonly Route[],
  clusters: ReadonlyMap<string, UpstreamCluster>,
  listener: string,
): CompiledRoute[] {
  return routes.map((route, i) => {
    const picked: UpstreamCluster[] = [];
    const cumulative: number[] = [];
    let total = 0;
    for (const d of route.destinations) {
      const cluster = clusters.get(d.cluster);
      if (cluster === undefined) {
        throw new Error(`listener ${listener} route ${i}: unknown cluster ${d.cluster}`);
      }
      if (d.weight <= 0) continue;
      total += d.weight;
      picked.push(cluster);
      cumulative.push(total);
    }
    const m = route.match;
    return {
      match: m,
      matchesAll:
        m.pathExact === undefined &&
        m.pathPrefix === undefined &&
        m.methods === undefined &&
        m.headers === undefined,
      clusters: picked,
      cumulative,
      totalWeight: total,
      timeoutMs: route.timeoutMs,
      retry: {
        policy: route.retry,
        on5xx: route.retry.retryOn.includes('5xx'),
        onGatewayError: route.retry.retryOn.includes('gateway-error'),
        onConnectFailure: route.retry.retryOn.includes('connect-failure'),
        onReset: route.retry.retryOn.includes('reset'),
        statusCodes: new Set(route.retry.retryOnStatusCodes),
      },
      fault: route.fault,
    };
  });
}

export function findRoute(
  routes: readonly CompiledRoute[],
  facts: RequestFacts,
): CompiledRoute | undefined {
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i] as CompiledRoute;
    if (r.matchesAll || matchesHttp(r.match, facts)) return r;
  }
  return undefined;
}

/** A destination cluster by weight; undefined when every weight is 0. */
export function pickCluster(route: CompiledRoute): UpstreamCluster | undefined {
  const n = route.clusters.length;
  if (n <= 1) return route.clusters[0];
  const r = Math.random() * route.totalWeight;
  for (let i = 0; i < n; i++) if (r < (route.cumulative[i] as number)) return route.clusters[i];
  return route.clusters[n - 1];
}

/** Whether a retry policy retries this status (method rules apply separately). */
export function retriesStatus(retry: CompiledRetry, status: number): boolean {
  if (status >= 500 && retry.on5xx) return true;
  if ((status === 502 || status === 503 || status === 504) && retry.onGatewayError) return true;
  return retry.statusCodes.size > 0 && retry.statusCodes.has(status);
}

/**
 * One upstream cluster at run time: its endpoints (kept by `address:port` across
 * updates), the endpoint set traffic may use, its load balancer, circuit breaker, retry
 * budget and outlier detector, and the source of its mTLS connections.
 */
import type { Cluster, Endpoint } from '../../../core/index.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { Balancer } from './balancers/balancer.ts';
import { createBalancer } from './balancers/balancer.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { EndpointPool } from './endpoint-pool.ts';
import type { ConnectionSource } from './endpoint-pool.ts';
import { EndpointState } from './endpoint.ts';
import { selectEndpoints } from './endpoint-set.ts';
import type { ConnectCallback, MtlsConnector } from './mtls-connector.ts';
import { OutlierDetector } from './outlier-detector.ts';
import type { OutlierHost } from './outlier-detector.ts';
import { RetryBudget } from './retry-budget.ts';
import { UpstreamError } from './upstream-error.ts';

/** What the admin `/clusters` endpoint shows per cluster. */
export interface ClusterStatus {
  name: string;
  service: string;
  namespace: string;
  policy: string;
  activeRequests: number;
  pendingRequests: number;
  connections: number;
  retriesActive: number;
  /** The priority level in use, and whether it is in panic. */
  priority: number;
  panic: boolean;
  endpoints: EndpointStatus[];
}

export interface EndpointStatus {
  address: string;
  port: number;
  zone: string;
  priority: number;
  health: string;
  weight: number;
  instanceId: string;
  activeRequests: number;
  requests: number;
  failures: number;
  ejected: boolean;
  ejections: number;
  latencyEwmaMs: number;
}

export class UpstreamCluster implements ConnectionSource, OutlierHost {
  readonly name: string;
  config: Cluster;
  endpoints: EndpointState[] = [];
  readonly breaker: CircuitBreaker;
  readonly budget = new RetryBudget();
  readonly outlier: OutlierDetector;
  balancer: Balancer;
  #byKey = new Map<string, EndpointState>();
  #set: ReturnType<typeof selectEndpoints> | undefined;
  #trustDomain: string;

  constructor(
    config: Cluster,
    trustDomain: string,
    private readonly connector: MtlsConnector,
    private readonly metrics: ProxyMetrics,
  ) {
    this.name = config.name;
    this.config = config;
    this.#trustDomain = trustDomain;
    this.breaker = new CircuitBreaker(config.limits);
    this.outlier = new OutlierDetector(this, config.outlier);
    this.balancer = createBalancer(config.lb);
    this.#assignEndpoints(config.endpoints);
  }

  /** Take a new snapshot of the cluster in place; endpoint observations stay. */
  update(config: Cluster, trustDomain: string): void {
    const lbChanged =
      config.lb.policy !== this.config.lb.policy ||
      config.lb.hashHeader !== this.config.lb.hashHeader ||
      config.lb.choiceCount !== this.config.lb.choiceCount;
    this.config = config;
    this.breaker.limits = config.limits;
    this.outlier.config = config.outlier;
    if (lbChanged) this.balancer = createBalancer(config.lb);
    this.#trustDomain = trustDomain;
    this.#assignEndpoints(config.endpoints);
  }

  #assignEndpoints(endpoints: readonly Endpoint[]): void {
    const next = new Map<string, EndpointState>();
    for (const endpoint of endpoints) {
      const key = EndpointState.keyOf(endpoint);
      const state = this.#byKey.get(key) ?? new EndpointState(endpoint.address, endpoint.port);
      state.assign(endpoint, this.config.service, this.config.namespace, this.#trustDomain);
      next.set(key, state);
    }
    for (const [key, state] of this.#byKey) if (!next.has(key)) this.#retire(state);
    this.#byKey = next;
    this.endpoints = [...next.values()];
    this.#set = undefined;
    this.#updateEjectedGauge();
  }

  /** The endpoint set in use (cached until endpoints, health or ejections change). */
  endpointSet(): ReturnType<typeof selectEndpoints> {
    let set = this.#set;
    if (set === undefined) {
      set = selectEndpoints(this.endpoints, this.config.panicThresholdPercent);
      this.#set = set;
    }
    return set;
  }

  /** Pick an endpoint, avoiding `exclude` when another one is available. */
  pick(hash: string | undefined, exclude: EndpointState | undefined): EndpointState | undefined {
    const set = this.endpointSet().endpoints;
    if (set.length === 0) return undefined;
    return this.balancer.pick(set, hash, exclude);
  }

  /** The endpoint's keep-alive pool, the `agent` its requests go through. */
  poolFor(endpoint: EndpointState): EndpointPool {
    let pool = endpoint.pool as EndpointPool | undefined;
    if (pool === undefined) {
      pool = new EndpointPool(this, endpoint);
      endpoint.pool = pool;
    }
    return pool;
  }

  /** Close pooled connections idle for too long. */
  sweep(now: number): void {
    for (const e of this.endpoints) e.pool?.sweep(now);
  }

  /** An mTLS connection to `endpoint`, unless the connection limit is reached. */
  openConnection(endpoint: EndpointState, callback: ConnectCallback): void {
    const overflow = this.breaker.connectionOverflow();
    if (overflow !== undefined) {
      // Counted where the overflow is answered (503 for HTTP, a closed connection for TCP).
      callback(new UpstreamError('overflow', `${this.name}: ${overflow} reached`, overflow));
      return;
    }
    this.breaker.connections++;
    let counted = true;
    const release = (): void => {
      if (counted) this.breaker.connections--;
      counted = false;
    };
    this.connector.connect(endpoint, this.config, (err, socket) => {
      if (err || socket === undefined) {
        release();
        callback(err);
        return;
      }
      socket.once('close', () => {
        release();
        this.connector.closed(socket);
      });
      callback(null, socket);
    });
  }

  ejectionChanged(endpoint: EndpointState, reason: string | undefined): void {
    this.#set = undefined;
    if (reason !== undefined) this.metrics.ejections.inc({ cluster: this.name, reason });
    this.#updateEjectedGauge();
    void endpoint;
  }

  #updateEjectedGauge(): void {
    this.metrics.ejectedEndpoints.set({ cluster: this.name }, this.outlier.ejectedCount());
  }

  #retire(endpoint: EndpointState): void {
    endpoint.retired = true;
    if (endpoint.ejectTimer) clearTimeout(endpoint.ejectTimer);
    endpoint.ejectTimer = undefined;
    endpoint.pool?.retire();
  }

  /** The cluster left the config: pools drain as their requests finish. */
  retire(): void {
    this.outlier.clear();
    for (const e of this.endpoints) this.#retire(e);
    this.metrics.ejectedEndpoints.remove({ cluster: this.name });
  }

  /** Close every connection now (proxy shutdown). */
  destroy(): void {
    this.retire();
    for (const e of this.endpoints) e.pool?.destroyIdle();
  }

  status(): ClusterStatus {
    const set = this.endpointSet();
    const now = performance.now();
    return {
      name: this.name,
      service: this.config.service,
      namespace: this.config.namespace,
      policy: this.config.lb.policy,
      activeRequests: this.breaker.requests,
      pendingRequests: this.breaker.pending,
      connections: this.breaker.connections,
      retriesActive: this.budget.active,
      priority: set.priority,
      panic: set.panic,
      endpoints: this.endpoints.map((e) => ({
        address: e.address,
        port: e.port,
        zone: e.zone,
        priority: e.priority,
        health: e.health,
        weight: e.weight,
        instanceId: e.instanceId,
        activeRequests: e.active,
        requests: e.requests,
        failures: e.failures,
        ejected: e.isEjected(),
        ejections: e.ejections,
        latencyEwmaMs: Math.round(e.latencyEstimate(now) * 1000) / 1000,
      })),
    };
  }
}

/**
 * One upstream cluster at run time: its endpoints (kept by `address:port` across
 * updates), how traffic is shared between its priority levels (rebuilt whenever endpoints,
 * health or ejections change, and read per request), one load balancer per level, its
 * circuit breaker, retry budget and outlier detector, and the source of its mTLS
 * connections.
 */
import type { Cluster, Endpoint } from '../../../core/index.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { Attempts } from './attempts.ts';
import type { Balancer } from './balancers/balancer.ts';
import { createBalancer } from './balancers/balancer.ts';
import { hashString } from './balancers/ring-hash.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { EndpointPool } from './endpoint-pool.ts';
import type { ConnectionSource } from './endpoint-pool.ts';
import { EndpointState } from './endpoint.ts';
import { buildEndpointSet } from './endpoint-set.ts';
import type { EndpointSet, PriorityLevel } from './endpoint-set.ts';
import type { ConnectCallback, MtlsConnector } from './mtls-connector.ts';
import { OutlierDetector } from './outlier-detector.ts';
import type { OutlierHost } from './outlier-detector.ts';
import { priorityLoadGauge } from './priority-load-gauge.ts';
import type { PriorityLoadGauge } from './priority-load-gauge.ts';
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
  /** The first priority level that gets traffic, and whether it is in panic. */
  priority: number;
  panic: boolean;
  /** Every level is in panic: the load follows the levels' total weights. */
  totalPanic: boolean;
  /** Bumped each time the load distribution is recomputed. */
  generation: number;
  /** Each priority level, lowest first, with its share of the traffic. */
  priorities: PriorityStatus[];
  endpoints: EndpointStatus[];
}

export interface PriorityStatus {
  priority: number;
  /** Percent of requests sent to this level. */
  loadPercent: number;
  /** Healthy share of the level's weight × the overprovisioning factor, capped at 100. */
  health: number;
  panic: boolean;
  endpoints: number;
  healthy: number;
  totalWeight: number;
  healthyWeight: number;
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
  #byKey = new Map<string, EndpointState>();
  #set: EndpointSet;
  #generation = 0;
  /** One balancer per priority number, kept across rebuilds (rings, rotations). */
  #balancers = new Map<number, Balancer>();
  /** `#balancers` by level index of `#set`. */
  #levelBalancers: Balancer[] = [];
  /** Ring hash: the request's key also picks the level, so a key sticks to one. */
  #hashPicksLevel: boolean;
  #trustDomain: string;
  readonly #loadGauge: PriorityLoadGauge;
  /** Priorities with a gauge value, to remove those that disappear. */
  #gaugedPriorities: number[] = [];

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
    this.#hashPicksLevel = config.lb.policy === 'ring_hash';
    this.#loadGauge = priorityLoadGauge(metrics);
    this.#set = buildEndpointSet([], config.panicThresholdPercent, config.overprovisioningFactor);
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
    if (lbChanged) this.#balancers.clear();
    this.#hashPicksLevel = config.lb.policy === 'ring_hash';
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
    this.#rebuild();
    this.#updateEjectedGauge();
  }

  /** The load distribution in use (rebuilt when endpoints, health or ejections change). */
  endpointSet(): EndpointSet {
    return this.#set;
  }

  /**
   * Pick an endpoint for a request: a priority level by the levels' loads (a retry's
   * `attempts` take away the levels it used up), then an endpoint of that level by its
   * balancer (avoiding those already tried while another one is left). Undefined when the
   * chosen level has nothing to offer ("no healthy upstream").
   */
  pick(hash: string | undefined, attempts: Attempts | undefined): EndpointState | undefined {
    const set = this.#set;
    const r =
      hash !== undefined && this.#hashPicksLevel ? hashString(hash) % 100 : Math.random() * 100;
    const level: PriorityLevel | undefined =
      attempts === undefined ? set.choose(r) : set.chooseAvoiding(r, attempts.avoids);
    if (level === undefined || level.targets.length === 0) return undefined;
    const balancer = this.#levelBalancers[level.index] as Balancer;
    return balancer.pick(level.targets, hash, attempts?.endpoints);
  }

  /** Recompute the load distribution, and give each level its balancer. */
  #rebuild(): void {
    const config = this.config;
    this.#generation++;
    const set = buildEndpointSet(
      this.endpoints,
      config.panicThresholdPercent,
      config.overprovisioningFactor,
      this.#generation,
    );
    this.#set = set;
    const keep = new Map<number, Balancer>();
    this.#levelBalancers = set.levels.map((level) => {
      const balancer = this.#balancers.get(level.priority) ?? createBalancer(config.lb);
      keep.set(level.priority, balancer);
      return balancer;
    });
    this.#balancers = keep;
    this.#updateLoadGauge(set);
  }

  #updateLoadGauge(set: EndpointSet): void {
    const now = set.levels.map((l) => l.priority);
    for (const p of this.#gaugedPriorities) {
      if (!now.includes(p)) this.#loadGauge.remove({ cluster: this.name, priority: String(p) });
    }
    for (const level of set.levels) {
      this.#loadGauge.set({ cluster: this.name, priority: String(level.priority) }, level.load);
    }
    this.#gaugedPriorities = now;
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
    // At once: an ejection moves traffic to the next level from the very next request.
    this.#rebuild();
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
    for (const p of this.#gaugedPriorities) {
      this.#loadGauge.remove({ cluster: this.name, priority: String(p) });
    }
    this.#gaugedPriorities = [];
  }

  /** Close every connection now (proxy shutdown). */
  destroy(): void {
    this.retire();
    for (const e of this.endpoints) e.pool?.destroyIdle();
  }

  status(): ClusterStatus {
    const set = this.#set;
    const primary = set.primary();
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
      priority: primary?.priority ?? 0,
      panic: primary?.panic ?? false,
      totalPanic: set.totalPanic,
      generation: set.generation,
      priorities: set.levels.map((l) => ({
        priority: l.priority,
        loadPercent: l.load,
        health: l.health,
        panic: l.panic,
        endpoints: l.endpoints.length,
        healthy: l.healthy.length,
        totalWeight: l.totalWeight,
        healthyWeight: l.healthyWeight,
      })),
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

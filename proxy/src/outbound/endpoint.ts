/**
 * One upstream endpoint as the data path tracks it: where it is, what the zone says about
 * it, and what this proxy has seen (requests in flight, latency, failures, ejection, the
 * TLS session to resume). Kept across config updates by `address:port`, so a new snapshot
 * does not forget an ejection or a warm connection pool.
 */
import type { Endpoint, HealthStatus } from '../../../core/index.ts';
import type { PeerIdentity } from '../mesh-tls.ts';

/** Latency EWMA decay time constant (Finagle's peak EWMA default is 10 s). */
const EWMA_TAU_MS = 10_000;

/** What the cluster needs from an endpoint's connection pool. */
export interface PoolHandle {
  retire(): void;
  destroyIdle(): void;
  sweep(now: number): void;
}

export class EndpointState {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  zone = '';
  priority = 0;
  health: HealthStatus = 'passing';
  weight = 1;
  instanceId = '';
  /** SNI for this endpoint: `<service>.<namespace>.<zone>.<trustDomain>`. */
  sni = '';

  /** Requests (or TCP connections) in flight to this endpoint. */
  active = 0;
  /** Completed attempts, and those that failed (5xx, connect failure, reset). */
  requests = 0;
  failures = 0;

  // Outlier detection.
  consecutive5xx = 0;
  consecutiveFailures = 0;
  ejections = 0;
  /** `Date.now()` until which the endpoint is ejected; 0 when it is not. */
  ejectedUntil = 0;
  /** When the last ejection ended (ms since the epoch; 0: never ejected). */
  returnedAt = 0;
  ejectTimer: NodeJS.Timeout | undefined = undefined;

  // Peak EWMA.
  ewmaMs = 0;
  ewmaStamp = 0;

  /** Smooth weighted round robin's running weight. */
  rrCurrent = 0;

  /** Weighted least request's earliest-deadline-first schedule, and whose schedule it is. */
  edfDeadline = 0;
  edfOwner: object | undefined = undefined;

  /** The last TLS session ticket, the identity verified when it was issued, and for which context. */
  session: Buffer | undefined = undefined;
  sessionPeer: PeerIdentity | undefined = undefined;
  sessionGeneration = -1;

  /** Keep-alive pool (HTTP), created on first use. */
  pool: PoolHandle | undefined = undefined;
  /** Set when the endpoint left the cluster: its pool closes as requests finish. */
  retired = false;

  constructor(address: string, port: number) {
    this.address = address;
    this.port = port;
    this.key = `${address}:${port}`;
  }

  /**
   * What makes two snapshot endpoints the same one: the zone too, because every remote zone
   * reached through one local gateway has the gateway's address and port, and each must
   * keep its own SNI, sessions and pool.
   */
  static keyOf(endpoint: Pick<Endpoint, 'address' | 'port' | 'zone'>): string {
    return `${endpoint.zone}|${endpoint.address}:${endpoint.port}`;
  }

  /** Take the zone's view of the endpoint; the proxy's own observations stay. */
  assign(endpoint: Endpoint, service: string, namespace: string, trustDomain: string): void {
    if (endpoint.zone !== this.zone) {
      // Another zone means another expected identity: forget the session tied to the old one.
      this.session = undefined;
      this.sessionPeer = undefined;
    }
    this.zone = endpoint.zone;
    this.priority = endpoint.priority;
    this.health = endpoint.health;
    this.weight = endpoint.weight;
    this.instanceId = endpoint.instanceId;
    this.sni = `${service}.${namespace}.${endpoint.zone}.${trustDomain}`;
  }

  isEjected(): boolean {
    return this.ejectedUntil !== 0;
  }

  /** Record one round-trip time; a slower sample than the average replaces it (peak). */
  observeLatency(ms: number, now: number): void {
    if (ms > this.ewmaMs) {
      this.ewmaMs = ms;
    } else {
      const w = Math.exp(-(now - this.ewmaStamp) / EWMA_TAU_MS);
      this.ewmaMs = this.ewmaMs * w + ms * (1 - w);
    }
    this.ewmaStamp = now;
  }

  /** The EWMA decayed towards zero for the time without samples, so an idle endpoint is retried. */
  latencyEstimate(now: number): number {
    if (this.ewmaMs === 0) return 0;
    return this.ewmaMs * Math.exp(-(now - this.ewmaStamp) / EWMA_TAU_MS);
  }
}

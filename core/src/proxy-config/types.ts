/**
 * The proxy config snapshot: everything a sidecar needs to serve, built by the zone control
 * plane for one proxy and pushed over the config stream (`config` frames), or read from a
 * static bootstrap file. The zone decides all of it except what only the proxy's host
 * knows (where the local app listens, where admin binds), so one type serves both sources.
 *
 * Shape and defaults follow Envoy, which Consul and Kuma both program, so that an operator
 * who knows their knobs finds the same ones here: listeners → routes → weighted clusters →
 * endpoints with zone, priority and health.
 */
import type { HealthStatus } from '../catalog/types.ts';

export const LB_POLICIES = ['round_robin', 'least_request', 'ring_hash', 'peak_ewma'] as const;
export type LbPolicy = (typeof LB_POLICIES)[number];

/** What a listener speaks. `http2` applies to outbound listeners only (h2c from the app). */
export const LISTENER_PROTOCOLS = ['tcp', 'http', 'http2'] as const;
export type ListenerProtocol = (typeof LISTENER_PROTOCOLS)[number];

/** Conditions a retry is made on (Envoy's `retry_on` names). */
export const RETRY_ON = ['5xx', 'gateway-error', 'connect-failure', 'reset'] as const;
export type RetryOn = (typeof RETRY_ON)[number];

export interface ProxyConfig {
  /** The service this proxy fronts, and where it lives. */
  service: string;
  namespace: string;
  zone: string;
  trustDomain: string;
  inbound: InboundConfig;
  outbound: OutboundListener[];
  clusters: Cluster[];
}

export interface InboundConfig {
  /** The mTLS listener's port (the address it binds is the proxy's own setting). */
  port: number;
  /** `http` enables L7 authorization rules, access logs per request and HTTP metrics. */
  protocol: 'tcp' | 'http';
  authorization: Authorization;
}

/**
 * Who may call this service. Rules are evaluated in order and the first whose source
 * matches decides; a rule with `http` permissions decides only when one of them matches
 * the request (and falls through otherwise). Unmatched callers get `defaultAction`.
 */
export interface Authorization {
  defaultAction: 'allow' | 'deny';
  rules: AuthzRule[];
}

export interface AuthzRule {
  action: 'allow' | 'deny';
  /** Each field present must equal the caller's SPIFFE ID part; `*` or absent matches any. */
  source: { service?: string; namespace?: string; zone?: string };
  /** L7 permissions (HTTP inbound only): the rule applies when any of them matches. */
  http?: HttpMatch[];
}

/** An HTTP request matcher; every field present must match. */
export interface HttpMatch {
  pathExact?: string;
  pathPrefix?: string;
  /** Upper-case method names. */
  methods?: string[];
  headers?: HeaderMatch[];
}

export interface HeaderMatch {
  /** Lower-case header name. */
  name: string;
  exact?: string;
  prefix?: string;
  /** `true`: the header must be present; `false`: it must be absent. */
  present?: boolean;
  /** Negate the whole match. */
  invert?: boolean;
}

/** A 127.0.0.1 listener the local app calls to reach one upstream service. */
export interface OutboundListener {
  /** Unique among listeners; by convention the upstream's service name. */
  name: string;
  port: number;
  protocol: ListenerProtocol;
  /**
   * HTTP listeners: evaluated in order, the first match routes. A snapshot always ends
   * with a catch-all route when the upstream has a default destination.
   * TCP listeners: exactly one route with an empty match (only its destinations count).
   */
  routes: Route[];
}

export interface Route {
  match: HttpMatch;
  /** Weighted split; weights are relative (they need not sum to 100). */
  destinations: WeightedCluster[];
  /** Whole-request timeout including retries; Envoy's route default is 15 s. */
  timeoutMs: number;
  retry: RetryPolicy;
  /** Faults to inject, for drills. */
  fault?: Fault;
}

export interface WeightedCluster {
  cluster: string;
  weight: number;
}

export interface RetryPolicy {
  /** Retries after the first attempt; 0 disables retries. */
  numRetries: number;
  retryOn: RetryOn[];
  /** Extra status codes that are retried. */
  retryOnStatusCodes: number[];
  /**
   * Retry only idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) on a response
   * or reset; connect failures are retried for every method, as nothing was sent.
   */
  idempotentOnly: boolean;
  /** Exponential backoff with full jitter: base, capped at max (Envoy: 25 ms, 10×). */
  baseIntervalMs: number;
  maxIntervalMs: number;
  /** Retries in flight may be at most this share of active requests (Envoy's budget: 20%)… */
  budgetPercent: number;
  /** …but this many are always allowed (Envoy: 3). */
  minRetryConcurrency: number;
}

export interface Fault {
  delay?: { percent: number; durationMs: number };
  abort?: { percent: number; httpStatus: number };
}

export interface Cluster {
  /** Unique among clusters; `<service>` or `<service>~<subset>` by the zone's convention. */
  name: string;
  /** The destination service: its SPIFFE ID is derived per endpoint from the endpoint's zone. */
  service: string;
  namespace: string;
  lb: LoadBalancer;
  connectTimeoutMs: number;
  limits: CircuitBreakerLimits;
  outlier: OutlierDetection;
  /**
   * When fewer than this percentage of a priority level's endpoints are healthy, traffic
   * goes to all of them (Envoy's panic threshold, default 50%): better some errors than
   * an overload of the few that remain.
   */
  panicThresholdPercent: number;
  /**
   * How much spare capacity each priority level is assumed to have (Envoy's
   * `overprovisioning_factor`, 140, as a ratio; default 1.4, from 1 to 10): a level's health is
   * its healthy share of weight × this factor, capped at 100%, and it takes that share of the
   * traffic, the rest spilling to the next level. At 1.4 a level keeps all of its traffic
   * until fewer than ~71.4% of it is healthy.
   */
  overprovisioningFactor: number;
  endpoints: Endpoint[];
}

export interface LoadBalancer {
  policy: LbPolicy;
  /** ring_hash: the request header hashed to pick an endpoint (HTTP only). */
  hashHeader?: string;
  /** least_request: how many random endpoints to compare (power of two choices). */
  choiceCount?: number;
}

export interface CircuitBreakerLimits {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
}

export interface OutlierDetection {
  /** Eject after this many consecutive 5xx responses (0 disables). */
  consecutive5xx: number;
  /** Eject after this many consecutive connect failures or resets (0 disables). */
  consecutiveConnectFailures: number;
  /** First ejection lasts this long; the nth lasts n times as long. */
  baseEjectionMs: number;
  /** At most this share of endpoints is ejected at once; one is always allowed. */
  maxEjectionPercent: number;
}

export interface Endpoint {
  /** The destination proxy's inbound mTLS address. */
  address: string;
  port: number;
  zone: string;
  /** Lower is preferred; the zone sets 0 for its own zone (locality-aware failover). */
  priority: number;
  health: HealthStatus;
  /** Relative weight (Consul's Weights.Passing / Warning at build time). */
  weight: number;
  /** The catalog instance behind it, for status and logs. */
  instanceId: string;
}

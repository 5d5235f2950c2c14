/**
 * Defaults for everything a policy may leave unsaid: Envoy's, which are also what Consul
 * and Kuma users get, except where noted.
 */
import type { CircuitBreakerLimits, LoadBalancer, OutlierDetection, RetryPolicy } from './types.ts';

/** Envoy's cluster connect timeout (and Consul's). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Envoy's route timeout. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;
export const DEFAULT_PANIC_THRESHOLD_PERCENT = 50;
/** Envoy's overprovisioning factor (140%) as a ratio: see `Cluster.overprovisioningFactor`. */
export const DEFAULT_OVERPROVISIONING_FACTOR = 1.4;

export function defaultLoadBalancer(): LoadBalancer {
  return { policy: 'round_robin' };
}

/** Envoy's circuit breaker thresholds. */
export function defaultLimits(): CircuitBreakerLimits {
  return { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024 };
}

/** Envoy's outlier detection: 5 consecutive 5xx or gateway failures, 30 s, at most 10%. */
export function defaultOutlier(): OutlierDetection {
  return {
    consecutive5xx: 5,
    consecutiveConnectFailures: 5,
    baseEjectionMs: 30_000,
    maxEjectionPercent: 10,
  };
}

/**
 * Two retries on 5xx, connect failures and resets, with Envoy's backoff (25 ms base,
 * 250 ms cap) and retry budget (20%, at least 3). Envoy retries nothing unless told; Kuma's
 * default MeshRetry retries 5xx and connect failures. We retry like Kuma but only
 * idempotent methods after a request was sent, so a POST is never sent twice by default.
 */
export function defaultRetryPolicy(): RetryPolicy {
  return {
    numRetries: 2,
    retryOn: ['5xx', 'connect-failure', 'reset'],
    retryOnStatusCodes: [],
    idempotentOnly: true,
    baseIntervalMs: 25,
    maxIntervalMs: 250,
    budgetPercent: 20,
    minRetryConcurrency: 3,
  };
}

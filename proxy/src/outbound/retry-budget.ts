/**
 * Envoy's retry budget: retries in flight may be at most `budgetPercent` of the cluster's
 * active requests, but `minRetryConcurrency` are always allowed. It bounds the extra load
 * retries add when an upstream is failing, which fixed retry counts do not.
 */
import type { RetryPolicy } from '../../../core/index.ts';

export class RetryBudget {
  /** Retries scheduled or in flight. */
  active = 0;

  allows(policy: RetryPolicy, activeRequests: number): boolean {
    const budget = Math.max(
      policy.minRetryConcurrency,
      (policy.budgetPercent * activeRequests) / 100,
    );
    return this.active < budget;
  }

  /** Take a retry slot if the budget allows one; give it back with {@link release}. */
  tryAcquire(policy: RetryPolicy, activeRequests: number): boolean {
    if (!this.allows(policy, activeRequests)) return false;
    this.active++;
    return true;
  }

  release(): void {
    this.active--;
  }
}

/** Exponential backoff with full jitter: uniform in [0, min(max, base × 2^retry)). */
export function backoffMs(policy: RetryPolicy, retry: number): number {
  const ceiling = Math.min(policy.maxIntervalMs, policy.baseIntervalMs * 2 ** retry);
  return Math.random() * ceiling;
}

/** Methods a retry may repeat after the request was sent (RFC 9110 §9.2.2). */
export function isIdempotent(method: string | undefined): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'PUT':
    case 'DELETE':
    case 'TRACE':
      return true;
    default:
      return false;
  }
}

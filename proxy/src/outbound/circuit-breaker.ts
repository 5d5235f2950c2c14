/**
 * Circuit breaking per cluster (Envoy's thresholds): connections open, requests waiting
 * for a connection, and requests in flight. Overflowing one refuses locally and fast (503
 * with `x-causeway-overflow: <limit>`) instead of queueing without bound.
 */
import type { CircuitBreakerLimits } from '../../../core/index.ts';

export class CircuitBreaker {
  connections = 0;
  pending = 0;
  requests = 0;

  constructor(public limits: CircuitBreakerLimits) {}

  /** The limit a new request would overflow, or undefined. */
  requestOverflow(): string | undefined {
    return this.requests >= this.limits.maxRequests ? 'max_requests' : undefined;
  }

  pendingOverflow(): string | undefined {
    return this.pending >= this.limits.maxPendingRequests ? 'max_pending_requests' : undefined;
  }

  connectionOverflow(): string | undefined {
    return this.connections >= this.limits.maxConnections ? 'max_connections' : undefined;
  }
}

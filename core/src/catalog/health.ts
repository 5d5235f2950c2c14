/**
 * An instance's health, aggregated from its checks the way Consul does: the worst status
 * wins, and an instance without checks is passing.
 */
import type { HealthStatus } from './types.ts';

const rank: Record<HealthStatus, number> = { passing: 0, warning: 1, critical: 2 };

/** The worst status among `checks` (its own and its node's); `passing` when there are none. */
export function aggregateHealth(checks: Iterable<{ status: HealthStatus }>): HealthStatus {
  let worst: HealthStatus = 'passing';
  for (const { status } of checks) {
    if (rank[status] > rank[worst]) worst = status;
  }
  return worst;
}

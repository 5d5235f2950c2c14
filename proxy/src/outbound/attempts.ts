/**
 * What a request's (or TCP connection's) earlier attempts tell the next one to avoid, so
 * that a retry is also a failover:
 *
 * - the endpoints already tried (Envoy's `previous_hosts` retry predicate), as long as the
 *   chosen level has another one;
 * - a priority level already tried, once the attempts used up its targets, or as soon as
 *   connecting to one of its endpoints failed (a whole zone behind a gateway, or a dead
 *   host, is more likely than not to fail again): its share of the load goes to the next
 *   levels, as Envoy's `previous_priorities` retry plugin recomputes it. When no other level
 *   has any health left, every level is allowed again.
 *
 * One object per request that is retried (none for the usual request that is not); a few
 * entries, so arrays and `includes` beat sets.
 */
import type { EndpointState } from './endpoint.ts';
import type { PriorityLevel } from './endpoint-set.ts';

export class Attempts {
  /** Endpoints tried, in order. */
  readonly endpoints: EndpointState[] = [];
  /** Priorities where connecting failed. */
  readonly #connectFailed: number[] = [];

  /** Record a failed attempt on `endpoint`. */
  add(endpoint: EndpointState, connectFailure: boolean): void {
    if (!this.endpoints.includes(endpoint)) this.endpoints.push(endpoint);
    if (connectFailure && !this.#connectFailed.includes(endpoint.priority)) {
      this.#connectFailed.push(endpoint.priority);
    }
  }

  /** Should the next attempt avoid this level? */
  readonly avoids = (level: PriorityLevel): boolean => {
    if (this.#connectFailed.includes(level.priority)) return true;
    const targets = level.targets;
    if (targets.length === 0) return false;
    for (const e of targets) if (!this.endpoints.includes(e)) return false;
    return true;
  };
}

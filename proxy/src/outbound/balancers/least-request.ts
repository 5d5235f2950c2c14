/**
 * Least request, as Envoy does it:
 *
 * - **Equal weights**: the power of `choiceCount` choices (Envoy's default is two): sample
 *   that many endpoints at random and take the one with the fewest requests in flight. With
 *   no more endpoints than choices it compares them all, starting from a rotating position
 *   so ties spread evenly.
 * - **Unequal weights**: earliest deadline first over all endpoints, each scheduled with the
 *   weight `weight ÷ (requests in flight + 1)` it has when picked (Envoy's
 *   `active_request_bias` of 1). Idle endpoints share the traffic in proportion to their
 *   weights, and a busy one is scheduled further out. Comparing weighted loads between two
 *   samples instead would send every sequential request to the heaviest endpoint.
 */
import type { EndpointState } from '../endpoint.ts';
import type { Balancer } from './balancer.ts';
import { anyNotExcluded, equalWeights, isExcluded, randomIndex } from './balancer.ts';

export class LeastRequestBalancer implements Balancer {
  #start = 0;
  /** EDF virtual time: the deadline of the last pick. */
  #now = 0;

  constructor(readonly choiceCount: number) {}

  pick(
    endpoints: readonly EndpointState[],
    _hash: string | undefined,
    exclude: readonly EndpointState[] | undefined,
  ): EndpointState {
    if (!equalWeights(endpoints)) return this.#earliestDeadline(endpoints, exclude);
    const n = endpoints.length;
    let best: EndpointState | undefined;
    let bestActive = Infinity;
    if (n <= this.choiceCount) {
      const start = this.#start++ % n;
      for (let k = 0; k < n; k++) {
        const e = endpoints[(start + k) % n] as EndpointState;
        if (isExcluded(e, exclude)) continue;
        if (e.active < bestActive) {
          best = e;
          bestActive = e.active;
        }
      }
    } else {
      for (let k = 0; k < this.choiceCount; k++) {
        const e = endpoints[randomIndex(n)] as EndpointState;
        if (isExcluded(e, exclude)) continue;
        if (e.active < bestActive) {
          best = e;
          bestActive = e.active;
        }
      }
    }
    return best ?? anyNotExcluded(endpoints, exclude);
  }

  #earliestDeadline(
    endpoints: readonly EndpointState[],
    exclude: readonly EndpointState[] | undefined,
  ): EndpointState {
    const now = this.#now;
    let best: EndpointState | undefined;
    let bestDeadline = Infinity;
    for (let i = 0; i < endpoints.length; i++) {
      const e = endpoints[i] as EndpointState;
      // New to this scheduler, or back after being out of the set (its old deadline would
      // give it a burst of catching-up picks): start one period from now.
      if (e.edfOwner !== this || e.edfDeadline < now) {
        e.edfOwner = this;
        e.edfDeadline = now + (e.active + 1) / e.weight;
      }
      if (isExcluded(e, exclude)) continue;
      if (e.edfDeadline < bestDeadline) {
        best = e;
        bestDeadline = e.edfDeadline;
      }
    }
    if (best === undefined) return anyNotExcluded(endpoints, exclude);
    this.#now = bestDeadline;
    best.edfDeadline = bestDeadline + (best.active + 1) / best.weight;
    return best;
  }
}

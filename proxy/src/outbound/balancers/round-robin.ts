/**
 * Round robin honouring weights: nginx's smooth weighted round robin, which interleaves
 * picks (5:1:1 gives a a b a c a a, not a a a a a b c). With equal weights it is a plain
 * rotation without the per-pick scan.
 */
import type { EndpointState } from '../endpoint.ts';
import type { Balancer } from './balancer.ts';
import { equalWeights, isExcluded } from './balancer.ts';

export class RoundRobinBalancer implements Balancer {
  #next = 0;

  pick(
    endpoints: readonly EndpointState[],
    _hash: string | undefined,
    exclude: readonly EndpointState[] | undefined,
  ): EndpointState {
    const n = endpoints.length;
    if (equalWeights(endpoints)) {
      // A retry moves on along the rotation past the endpoints it already tried.
      let chosen = this.#rotate(n, endpoints);
      for (let k = 1; k < n && isExcluded(chosen, exclude); k++)
        chosen = this.#rotate(n, endpoints);
      return chosen;
    }
    // A retry runs the step among the endpoints it has not tried, if any are left.
    let skip = exclude;
    if (skip !== undefined && endpoints.every((e) => skip?.includes(e))) skip = undefined;
    let total = 0;
    let best: EndpointState | undefined;
    for (let i = 0; i < n; i++) {
      const e = endpoints[i] as EndpointState;
      if (isExcluded(e, skip)) continue;
      e.rrCurrent += e.weight;
      total += e.weight;
      if (best === undefined || e.rrCurrent > best.rrCurrent) best = e;
    }
    (best as EndpointState).rrCurrent -= total;
    return best as EndpointState;
  }

  #rotate(n: number, endpoints: readonly EndpointState[]): EndpointState {
    if (this.#next >= n) this.#next = 0;
    return endpoints[this.#next++] as EndpointState;
  }
}

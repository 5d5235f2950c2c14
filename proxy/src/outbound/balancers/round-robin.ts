/**
 * Round robin honouring weights: nginx's smooth weighted round robin, which interleaves
 * picks (5:1:1 gives a a b a c a a, not a a a a a b c). With equal weights it is a plain
 * rotation without the per-pick scan.
 */
import type { EndpointState } from '../endpoint.ts';
import type { Balancer } from './balancer.ts';

export class RoundRobinBalancer implements Balancer {
  #next = 0;

  pick(
    endpoints: readonly EndpointState[],
    _hash: string | undefined,
    exclude: EndpointState | undefined,
  ): EndpointState {
    let chosen = this.#pickOnce(endpoints);
    if (chosen === exclude && endpoints.length > 1) chosen = this.#pickOnce(endpoints);
    return chosen;
  }

  #pickOnce(endpoints: readonly EndpointState[]): EndpointState {
    const n = endpoints.length;
    const first = endpoints[0] as EndpointState;
    let equal = true;
    for (let i = 1; i < n; i++) {
      if ((endpoints[i] as EndpointState).weight !== first.weight) {
        equal = false;
        break;
      }
    }
    if (equal) {
      if (this.#next >= n) this.#next = 0;
      return endpoints[this.#next++] as EndpointState;
    }
    let total = 0;
    let best = first;
    for (let i = 0; i < n; i++) {
      const e = endpoints[i] as EndpointState;
      e.rrCurrent += e.weight;
      total += e.weight;
      if (e.rrCurrent > best.rrCurrent) best = e;
    }
    best.rrCurrent -= total;
    return best;
  }
}

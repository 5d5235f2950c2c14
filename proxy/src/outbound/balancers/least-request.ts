/**
 * Least request with the power of `choiceCount` choices (Envoy's default policy is this
 * with two): sample that many endpoints at random and take the one with the fewest
 * requests in flight, relative to its weight. With no more endpoints than choices it
 * compares them all, starting from a rotating position so ties spread evenly.
 */
import type { EndpointState } from '../endpoint.ts';
import type { Balancer } from './balancer.ts';
import { randomIndex } from './balancer.ts';

export class LeastRequestBalancer implements Balancer {
  #start = 0;

  constructor(readonly choiceCount: number) {}

  pick(
    endpoints: readonly EndpointState[],
    _hash: string | undefined,
    exclude: EndpointState | undefined,
  ): EndpointState {
    const n = endpoints.length;
    let best: EndpointState | undefined;
    let bestLoad = Infinity;
    if (n <= this.choiceCount) {
      const start = this.#start++ % n;
      for (let k = 0; k < n; k++) {
        const e = endpoints[(start + k) % n] as EndpointState;
        if (e === exclude) continue;
        const load = (e.active + 1) / e.weight;
        if (load < bestLoad) {
          best = e;
          bestLoad = load;
        }
      }
    } else {
      for (let k = 0; k < this.choiceCount; k++) {
        const e = endpoints[randomIndex(n)] as EndpointState;
        if (e === exclude) continue;
        const load = (e.active + 1) / e.weight;
        if (load < bestLoad) {
          best = e;
          bestLoad = load;
        }
      }
    }
    return best ?? (endpoints[randomIndex(n)] as EndpointState);
  }
}

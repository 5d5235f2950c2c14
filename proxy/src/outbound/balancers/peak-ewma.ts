/**
 * Peak EWMA (Finagle, linkerd): cost = latency EWMA × (requests in flight + 1) ÷ weight,
 * compared between two random endpoints (all of them when there are at most two). The
 * EWMA jumps to a slower sample at once and decays towards faster ones, and towards zero
 * while an endpoint gets no traffic, so a recovered endpoint is tried again.
 */
import type { EndpointState } from '../endpoint.ts';
import type { Balancer } from './balancer.ts';
import { randomIndex } from './balancer.ts';

export class PeakEwmaBalancer implements Balancer {
  #start = 0;

  pick(
    endpoints: readonly EndpointState[],
    _hash: string | undefined,
    exclude: EndpointState | undefined,
  ): EndpointState {
    const n = endpoints.length;
    const now = performance.now();
    let a: EndpointState;
    let b: EndpointState;
    if (n === 1) return endpoints[0] as EndpointState;
    if (n === 2) {
      const s = this.#start++ & 1;
      a = endpoints[s] as EndpointState;
      b = endpoints[1 - s] as EndpointState;
    } else {
      const i = randomIndex(n);
      let j = randomIndex(n - 1);
      if (j >= i) j++;
      a = endpoints[i] as EndpointState;
      b = endpoints[j] as EndpointState;
    }
    if (a === exclude) return b;
    if (b === exclude) return a;
    return cost(b, now) < cost(a, now) ? b : a;
  }
}

function cost(e: EndpointState, now: number): number {
  return (e.latencyEstimate(now) * (e.active + 1)) / e.weight;
}

/**
 * Peak EWMA (Finagle, linkerd): cost = latency EWMA × (requests in flight + 1), compared
 * between two endpoints (both when there are only two), the cheaper one taken. The EWMA
 * jumps to a slower sample at once and decays towards faster ones, and towards zero while
 * an endpoint gets no traffic, so a recovered endpoint is tried again.
 *
 * Weights decide which two are compared: each is drawn with probability proportional to
 * its weight (the second among the others), and a tie goes to the first drawn. So endpoints
 * that cost the same share traffic by weight, and a cheaper one still wins. Dividing the
 * cost by the weight instead would hand every sequential request to the heaviest endpoint.
 */
import type { EndpointState } from '../endpoint.ts';
import type { Balancer } from './balancer.ts';
import { anyNotExcluded, equalWeights, isExcluded, randomIndex } from './balancer.ts';

export class PeakEwmaBalancer implements Balancer {
  #start = 0;
  /** Cumulative weights of `#for`, rebuilt when the endpoint array changes. */
  #for: readonly EndpointState[] | undefined;
  #cumulative = new Float64Array(0);
  #weighted = false;

  pick(
    endpoints: readonly EndpointState[],
    _hash: string | undefined,
    exclude: readonly EndpointState[] | undefined,
  ): EndpointState {
    const n = endpoints.length;
    if (n === 1) return endpoints[0] as EndpointState;
    if (this.#for !== endpoints) this.#prepare(endpoints);
    let i: number;
    let j: number;
    if (this.#weighted) {
      i = this.#draw(Math.random() * this.#total(), -1);
      j = this.#draw(Math.random() * (this.#total() - this.#weightAt(i)), i);
    } else if (n === 2) {
      i = this.#start++ & 1;
      j = 1 - i;
    } else {
      i = randomIndex(n);
      j = randomIndex(n - 1);
      if (j >= i) j++;
    }
    const a = endpoints[i] as EndpointState;
    const b = endpoints[j] as EndpointState;
    const aOut = isExcluded(a, exclude);
    const bOut = isExcluded(b, exclude);
    if (aOut && bOut) return anyNotExcluded(endpoints, exclude);
    if (aOut) return b;
    if (bOut) return a;
    const now = performance.now();
    return cost(b, now) < cost(a, now) ? b : a;
  }

  #prepare(endpoints: readonly EndpointState[]): void {
    this.#for = endpoints;
    this.#weighted = !equalWeights(endpoints);
    if (!this.#weighted) return;
    const cumulative = new Float64Array(endpoints.length);
    let sum = 0;
    for (let k = 0; k < endpoints.length; k++) {
      sum += (endpoints[k] as EndpointState).weight;
      cumulative[k] = sum;
    }
    this.#cumulative = cumulative;
  }

  #total(): number {
    return this.#cumulative[this.#cumulative.length - 1] as number;
  }

  #weightAt(k: number): number {
    return (this.#cumulative[k] as number) - (k === 0 ? 0 : (this.#cumulative[k - 1] as number));
  }

  /**
   * The index whose weight interval holds `r`, with index `skip` (and its weight) left out:
   * `r` is drawn from the total minus that weight, and shifted past the skipped interval.
   */
  #draw(r: number, skip: number): number {
    const cumulative = this.#cumulative;
    if (skip >= 0 && r >= (skip === 0 ? 0 : (cumulative[skip - 1] as number))) {
      r += this.#weightAt(skip);
    }
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cumulative[mid] as number) <= r) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function cost(e: EndpointState, now: number): number {
  return e.latencyEstimate(now) * (e.active + 1);
}

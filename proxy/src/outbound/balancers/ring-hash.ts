/**
 * Consistent hashing on a request header (Envoy's ring hash): every endpoint owns
 * `128 × weight` points (capped at 2048) on a 32-bit ring placed by hashing its own
 * `address:port`, and a request goes to the first point at or after its key's hash.
 * Because an endpoint's points depend only on itself, adding or removing one moves only
 * the keys it gains or loses. Requests without the header go to a random endpoint.
 */
import type { EndpointState } from '../endpoint.ts';
import type { Balancer } from './balancer.ts';
import { randomIndex } from './balancer.ts';

const POINTS_PER_WEIGHT = 128;
const MAX_POINTS = 2048;

export class RingHashBalancer implements Balancer {
  #for: readonly EndpointState[] | undefined;
  #hashes = new Uint32Array(0);
  #owners: EndpointState[] = [];

  pick(
    endpoints: readonly EndpointState[],
    hash: string | undefined,
    exclude: EndpointState | undefined,
  ): EndpointState {
    const n = endpoints.length;
    if (hash === undefined || n === 1) {
      const e = endpoints[randomIndex(n)] as EndpointState;
      return e === exclude && n > 1
        ? (endpoints[(endpoints.indexOf(e) + 1) % n] as EndpointState)
        : e;
    }
    if (this.#for !== endpoints) this.#build(endpoints);
    const hashes = this.#hashes;
    const h = hashString(hash);
    // First point >= h, wrapping around.
    let lo = 0;
    let hi = hashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((hashes[mid] as number) < h) lo = mid + 1;
      else hi = mid;
    }
    const size = hashes.length;
    let at = lo === size ? 0 : lo;
    let owner = this.#owners[at] as EndpointState;
    // A retry walks on to the next endpoint along the ring.
    for (let steps = 0; owner === exclude && steps < size; steps++) {
      at = at + 1 === size ? 0 : at + 1;
      owner = this.#owners[at] as EndpointState;
    }
    return owner;
  }

  #build(endpoints: readonly EndpointState[]): void {
    const points: { hash: number; owner: EndpointState }[] = [];
    for (const e of endpoints) {
      const count = Math.min(MAX_POINTS, POINTS_PER_WEIGHT * e.weight);
      for (let i = 0; i < count; i++) points.push({ hash: hashString(`${e.key}_${i}`), owner: e });
    }
    // Ties (vanishingly rare) are broken by key so the ring does not depend on input order.
    points.sort((x, y) => x.hash - y.hash || (x.owner.key < y.owner.key ? -1 : 1));
    this.#hashes = Uint32Array.from(points, (p) => p.hash);
    this.#owners = points.map((p) => p.owner);
    this.#for = endpoints;
  }
}

/** FNV-1a over UTF-16 code units, then murmur3's finaliser to spread nearby keys. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

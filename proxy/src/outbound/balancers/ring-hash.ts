/**
 * Consistent hashing on a request header (Envoy's ring hash): every endpoint owns
 * `128 × weight` points on a 32-bit ring placed by hashing its own `address:port`, and a
 * request goes to the first point at or after its key's hash. Because an endpoint's points
 * depend only on itself, adding or removing one moves only the keys it gains or loses.
 * Past {@link MAX_RING_POINTS} in all, every endpoint's count is scaled down alike (at least
 * one point each), so weights keep their proportions. Requests without the header land on
 * a random point, which spreads them by weight too.
 */
import type { EndpointState } from '../endpoint.ts';
import type { Balancer } from './balancer.ts';
import { isExcluded } from './balancer.ts';

const POINTS_PER_WEIGHT = 128;
/** Bounds the ring's memory (12 bytes a point) and build time for very large weights. */
export const MAX_RING_POINTS = 65_536;
/** Owner indexes ride below the hash in one float64 sort key (2^17 > 100,000 endpoints). */
const OWNER_BITS = 2 ** 17;

export class RingHashBalancer implements Balancer {
  #for: readonly EndpointState[] | undefined;
  #hashes = new Uint32Array(0);
  #owners: EndpointState[] = [];

  pick(
    endpoints: readonly EndpointState[],
    hash: string | undefined,
    exclude: readonly EndpointState[] | undefined,
  ): EndpointState {
    if (endpoints.length === 1) return endpoints[0] as EndpointState;
    if (this.#for !== endpoints) this.#build(endpoints);
    const hashes = this.#hashes;
    const size = hashes.length;
    let at: number;
    if (hash === undefined) {
      at = Math.floor(Math.random() * size);
    } else {
      const h = hashString(hash);
      // First point >= h, wrapping around.
      let lo = 0;
      let hi = size;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((hashes[mid] as number) < h) lo = mid + 1;
        else hi = mid;
      }
      at = lo === size ? 0 : lo;
    }
    let owner = this.#owners[at] as EndpointState;
    // A retry walks on along the ring past the endpoints it already tried.
    for (let steps = 0; isExcluded(owner, exclude) && steps < size; steps++) {
      at = at + 1 === size ? 0 : at + 1;
      owner = this.#owners[at] as EndpointState;
    }
    return owner;
  }

  #build(endpoints: readonly EndpointState[]): void {
    // By key, so that a tie between two points (vanishingly rare) does not depend on order.
    const owners = [...endpoints].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    let total = 0;
    for (const e of owners) total += POINTS_PER_WEIGHT * e.weight;
    const scale = total > MAX_RING_POINTS ? MAX_RING_POINTS / total : 1;
    const counts = owners.map((e) => Math.max(1, Math.round(POINTS_PER_WEIGHT * e.weight * scale)));
    const keys = new Float64Array(counts.reduce((a, b) => a + b, 0));
    let k = 0;
    owners.forEach((e, owner) => {
      const count = counts[owner] as number;
      for (let i = 0; i < count; i++) keys[k++] = hashString(`${e.key}_${i}`) * OWNER_BITS + owner;
    });
    keys.sort();
    const hashes = new Uint32Array(keys.length);
    const pointOwners: EndpointState[] = new Array<EndpointState>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const v = keys[i] as number;
      const owner = v % OWNER_BITS;
      hashes[i] = (v - owner) / OWNER_BITS;
      pointOwners[i] = owners[owner] as EndpointState;
    }
    this.#hashes = hashes;
    this.#owners = pointOwners;
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

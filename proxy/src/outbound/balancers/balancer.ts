/**
 * A load balancer picks one endpoint among the targets of the priority level chosen for a
 * request (its healthy endpoints, or all of them in panic; see `endpoint-set.ts`). One
 * class per policy, one instance per level of a cluster (so a ring or a rotation belongs to
 * one set of endpoints); `createBalancer` maps a config to one. Every policy honours
 * `Endpoint.weight`: that is how the zone spreads traffic across zones at one priority.
 */
import type { LoadBalancer } from '../../../../core/index.ts';
import type { EndpointState } from '../endpoint.ts';
import { LeastRequestBalancer } from './least-request.ts';
import { PeakEwmaBalancer } from './peak-ewma.ts';
import { RingHashBalancer } from './ring-hash.ts';
import { RoundRobinBalancer } from './round-robin.ts';

export interface Balancer {
  /**
   * @param endpoints - non-empty; the same array instance until the set changes.
   * @param hash - the request's hash key (ring hash), when it has one.
   * @param exclude - endpoints a retry already tried: avoided while another one is left.
   */
  pick(
    endpoints: readonly EndpointState[],
    hash: string | undefined,
    exclude: readonly EndpointState[] | undefined,
  ): EndpointState;
}

export function createBalancer(config: LoadBalancer): Balancer {
  switch (config.policy) {
    case 'round_robin':
      return new RoundRobinBalancer();
    case 'least_request':
      return new LeastRequestBalancer(config.choiceCount ?? 2);
    case 'ring_hash':
      return new RingHashBalancer();
    case 'peak_ewma':
      return new PeakEwmaBalancer();
  }
}

/** A uniformly random index in [0, n). */
export function randomIndex(n: number): number {
  return Math.floor(Math.random() * n);
}

export function isExcluded(
  e: EndpointState,
  exclude: readonly EndpointState[] | undefined,
): boolean {
  return exclude !== undefined && exclude.includes(e);
}

/** Whether every endpoint has the same weight (the policies' fast, unweighted path). */
export function equalWeights(endpoints: readonly EndpointState[]): boolean {
  const n = endpoints.length;
  if (n < 2) return true;
  const w = (endpoints[0] as EndpointState).weight;
  for (let i = 1; i < n; i++) if ((endpoints[i] as EndpointState).weight !== w) return false;
  return true;
}

/** An endpoint not excluded, scanning from a random position; a random one if all are. */
export function anyNotExcluded(
  endpoints: readonly EndpointState[],
  exclude: readonly EndpointState[] | undefined,
): EndpointState {
  const n = endpoints.length;
  const start = randomIndex(n);
  for (let k = 0; k < n; k++) {
    const e = endpoints[(start + k) % n] as EndpointState;
    if (!isExcluded(e, exclude)) return e;
  }
  return endpoints[start] as EndpointState;
}

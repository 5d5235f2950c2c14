/**
 * A load balancer picks one endpoint of the set the cluster allows right now (the
 * priority level in use, healthy and not ejected unless in panic). One class per policy;
 * `createBalancer` maps a config to one.
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
   * @param exclude - an endpoint to avoid if any other is available (a retry's last try).
   */
  pick(
    endpoints: readonly EndpointState[],
    hash: string | undefined,
    exclude: EndpointState | undefined,
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

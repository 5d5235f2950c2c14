import { EndpointState } from '../../../../proxy/src/outbound/endpoint.ts';

/** Endpoints 10.0.0.<i>:8443 with the given weights. */
export function endpoints(weights: number[]): EndpointState[] {
  return weights.map((w, i) => {
    const e = new EndpointState(`10.0.0.${i + 1}`, 8443);
    e.weight = w;
    return e;
  });
}

export function tally(picks: EndpointState[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of picks) counts.set(p.key, (counts.get(p.key) ?? 0) + 1);
  return counts;
}

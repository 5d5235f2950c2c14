/**
 * Which endpoints of a cluster may get traffic right now (Envoy's priority levels and
 * panic threshold): the lowest priority level that has a healthy endpoint (health not
 * critical, not ejected); within it, the healthy ones, unless fewer than
 * `panicThresholdPercent` of the level are healthy, in which case all of the level's
 * endpoints (better some errors than overloading the few left). When no level has a
 * healthy endpoint, the lowest level in panic.
 */
import type { EndpointState } from './endpoint.ts';

export interface EndpointSet {
  endpoints: EndpointState[];
  priority: number;
  panic: boolean;
}

export function isHealthy(e: EndpointState): boolean {
  return e.health !== 'critical' && e.ejectedUntil === 0;
}

export function selectEndpoints(
  all: readonly EndpointState[],
  panicThresholdPercent: number,
): EndpointSet {
  if (all.length === 0) return { endpoints: [], priority: 0, panic: false };
  const levels = [...new Set(all.map((e) => e.priority))].sort((a, b) => a - b);
  for (const priority of levels) {
    const level = all.filter((e) => e.priority === priority);
    const healthy = level.filter(isHealthy);
    if (healthy.length === 0) continue;
    if ((healthy.length * 100) / level.length < panicThresholdPercent) {
      return { endpoints: level, priority, panic: true };
    }
    return { endpoints: healthy, priority, panic: false };
  }
  const lowest = levels[0] as number;
  return { endpoints: all.filter((e) => e.priority === lowest), priority: lowest, panic: true };
}

/**
 * How a cluster's traffic is shared between its priority levels (Envoy's priority load,
 * `load_balancer_impl.cc`), computed once per change of endpoints, health or ejections and
 * then read by every request without allocating.
 *
 * - A level's **health** is `min(100, ⌊overprovisioning% × healthy weight ÷ total weight⌋)`
 *   (integer percents, as Envoy's), healthy meaning not critical and not ejected. With the
 *   default factor 1.4 a level keeps all of its traffic until less than ~71.4% of its weight
 *   is healthy.
 * - **Load**: P0 gets its health in percent of the traffic, the rest spills to the next level
 *   up to its health, and so on. When the healths add up to less than 100 each is scaled up
 *   by 100 ÷ their sum, so the traffic still adds up to 100%; rounding leftovers go to the
 *   first level with any health.
 * - **Panic**, per level: unless the healths add up to 100 or more, a level whose healthy
 *   share of weight is below the panic threshold sends its share over all of its endpoints,
 *   healthy or not (better some errors than overloading the few left). When every level is
 *   in panic, the load follows each level's total weight instead (Envoy's total panic). With
 *   a threshold of 0 and nothing healthy anywhere, P0 gets the load and no endpoint: the
 *   request fails with "no healthy upstream".
 *
 * Weights are `Endpoint.weight` throughout, where Envoy counts hosts: the zone gives a
 * remote zone's gateway endpoint the weight of that zone's healthy instances, so a level's
 * health is the share of instances behind it that are up.
 */
import type { EndpointState } from './endpoint.ts';

/** One priority level of a cluster, as traffic sees it. */
export interface PriorityLevel {
  /** The endpoints' `priority` (levels may skip numbers). */
  readonly priority: number;
  /** Position in {@link EndpointSet.levels}. */
  readonly index: number;
  readonly endpoints: readonly EndpointState[];
  /** Not critical and not ejected. */
  readonly healthy: readonly EndpointState[];
  /** What the balancer picks from: the healthy endpoints, or all of them in panic. */
  readonly targets: readonly EndpointState[];
  readonly healthyWeight: number;
  readonly totalWeight: number;
  /** 0–100, overprovisioned and capped. */
  readonly health: number;
  /** Percent of requests sent to this level, 0–100; the levels' loads add up to 100. */
  readonly load: number;
  readonly panic: boolean;
}

export function isHealthy(e: EndpointState): boolean {
  return e.health !== 'critical' && e.ejectedUntil === 0;
}

/** The levels of a cluster at one generation, and the choice of a level per request. */
export class EndpointSet {
  constructor(
    /** By ascending priority. */
    readonly levels: readonly PriorityLevel[],
    /** Every level is in panic: loads follow total weight. */
    readonly totalPanic: boolean,
    /** Bumped by the cluster each time the set is rebuilt. */
    readonly generation: number,
  ) {}

  /** A level by the loads, `r` uniform in [0, 100) (random, or from a hash). */
  choose(r: number): PriorityLevel | undefined {
    const levels = this.levels;
    let cumulative = 0;
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i] as PriorityLevel;
      cumulative += level.load;
      if (r < cumulative) return level;
    }
    // Only when there are no levels (loads always add up to 100 otherwise).
    return levels[0];
  }

  /**
   * A level for a retry that should avoid some levels (Envoy's `previous_priorities`): the
   * loads are recomputed with the avoided levels' health taken as 0, so the traffic they
   * would get goes where it would go if they were down. When no other level has any
   * health, the normal loads apply: better the same level again than nothing.
   */
  chooseAvoiding(r: number, avoid: (level: PriorityLevel) => boolean): PriorityLevel | undefined {
    const levels = this.levels;
    const healths: number[] = [];
    let any = false;
    for (const level of levels) {
      const health = avoid(level) ? 0 : level.health;
      if (health > 0) any = true;
      healths.push(health);
    }
    if (!any) return this.choose(r);
    const loads = distributeLoad(healths);
    let cumulative = 0;
    for (let i = 0; i < levels.length; i++) {
      cumulative += loads[i] as number;
      if (r < cumulative) return levels[i];
    }
    return levels[0];
  }

  /** The first level that gets traffic, for status. */
  primary(): PriorityLevel | undefined {
    return this.levels.find((l) => l.load > 0) ?? this.levels[0];
  }
}

/**
 * Build the set for `all` endpoints.
 * @param overprovisioningFactor - a ratio (1.4 is Envoy's 140).
 */
export function buildEndpointSet(
  all: readonly EndpointState[],
  panicThresholdPercent: number,
  overprovisioningFactor: number,
  generation = 0,
): EndpointSet {
  const byPriority = new Map<number, EndpointState[]>();
  for (const e of all) {
    const level = byPriority.get(e.priority);
    if (level === undefined) byPriority.set(e.priority, [e]);
    else level.push(e);
  }
  const priorities = [...byPriority.keys()].sort((a, b) => a - b);
  // Integer percent like Envoy's (140), so that 1.4 × 50% is exactly 70.
  const overprovisioning = Math.round(overprovisioningFactor * 100);
  const healths: number[] = [];
  const parts = priorities.map((priority) => {
    const endpoints = byPriority.get(priority) as EndpointState[];
    const healthy = endpoints.filter(isHealthy);
    const totalWeight = sumWeights(endpoints);
    const healthyWeight = sumWeights(healthy);
    const health =
      totalWeight === 0
        ? 0
        : Math.min(100, Math.floor((overprovisioning * healthyWeight) / totalWeight));
    healths.push(health);
    return { priority, endpoints, healthy, totalWeight, healthyWeight, health };
  });
  const normalizedTotal = Math.min(
    100,
    healths.reduce((a, b) => a + b, 0),
  );
  // Enough health somewhere for all of the traffic: no level panics (Envoy).
  const panics = parts.map(
    (p) =>
      normalizedTotal < 100 &&
      (p.totalWeight === 0 ? 0 : (p.healthyWeight * 100) / p.totalWeight) < panicThresholdPercent,
  );
  const totalPanic = parts.length > 0 && panics.every(Boolean);
  let loads: number[];
  if (totalPanic) {
    loads = distributeByWeight(parts.map((p) => p.totalWeight));
  } else if (normalizedTotal === 0) {
    // Panic is off (threshold 0) and nothing is healthy: P0 takes the load, with no target.
    loads = parts.map((_, i) => (i === 0 ? 100 : 0));
  } else {
    loads = distributeLoad(healths);
  }
  const levels = parts.map((p, index): PriorityLevel => ({
    ...p,
    index,
    targets: panics[index] === true ? p.endpoints : p.healthy,
    load: loads[index] as number,
    panic: panics[index] as boolean,
  }));
  return new EndpointSet(levels, totalPanic, generation);
}

/**
 * Envoy's `distributeLoad`: each level in turn takes as much of what is left as its health
 * scaled by 100 ÷ (the healths' sum, capped at 100); rounding leftovers go to the first
 * level with any health. At least one health must be positive.
 */
export function distributeLoad(healths: readonly number[]): number[] {
  const normalizedTotal = Math.min(
    100,
    healths.reduce((a, b) => a + b, 0),
  );
  let remaining = 100;
  let first = -1;
  const loads = healths.map((health, i) => {
    if (first < 0 && health > 0) first = i;
    const load = Math.min(remaining, Math.floor((health * 100) / normalizedTotal));
    remaining -= load;
    return load;
  });
  if (remaining > 0 && first >= 0) loads[first] = (loads[first] as number) + remaining;
  return loads;
}

/** Total panic: each level's share of the total weight; leftovers to the first non-empty. */
function distributeByWeight(weights: readonly number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  if (total === 0) return weights.map((_, i) => (i === 0 ? 100 : 0));
  let remaining = 100;
  const loads = weights.map((w) => {
    const load = Math.floor((100 * w) / total);
    remaining -= load;
    return load;
  });
  const first = weights.findIndex((w) => w > 0);
  loads[first] = (loads[first] as number) + remaining;
  return loads;
}

function sumWeights(endpoints: readonly EndpointState[]): number {
  let sum = 0;
  for (const e of endpoints) sum += e.weight;
  return sum;
}

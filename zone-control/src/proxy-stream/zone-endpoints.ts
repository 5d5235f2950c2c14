/**
 * Cross-zone endpoints of an upstream cluster: which zones a cluster may use and at what
 * priority (the destination's service-resolver `Failover` and `ZoneWeights`), and the
 * endpoints that stand for a whole remote zone — one per healthy local gateway, whose
 * local listener tunnels to that zone, or, with no local gateway, one per healthy gateway
 * of that zone, dialled directly by SNI (Consul's mesh gateway mode "remote").
 *
 * The proxy treats priorities as Envoy does: all traffic to the lowest priority while it
 * has enough healthy capacity (with overprovisioning), spilling to the next as it loses
 * it. So priority 0 is the local zone (or the zones `ZoneWeights` spreads across) and
 * failover zones follow in their configured order.
 */
import type { CatalogSnapshot, Endpoint, ServiceResolverEntry } from '../../../core/index.ts';
import type { RemoteResources } from './remote-resources.ts';

/** Catalog meta marking an instance as this zone's east-west gateway. */
export const GATEWAY_KIND_META = 'causeway-kind';
export const GATEWAY_KIND = 'mesh-gateway';

/** Weighted zones share this much weight per unit of zone weight (100 × 10 000 = the cap). */
const ZONE_WEIGHT_SCALE = 10_000;
const MAX_ENDPOINT_WEIGHT = 1_000_000;

/** Where a zone's endpoints go in a cluster: their priority, and its `ZoneWeights` share. */
export interface ZoneTier {
  priority: number;
  /** The zone's weight when `ZoneWeights` spreads the first priority; undefined otherwise. */
  share?: number;
}

/** Zone → its tier, or undefined when the cluster must not use that zone. */
export type ZonePlan = (zone: string) => ZoneTier | undefined;

/**
 * The zones a cluster uses and in which order:
 *
 * - priority 0: with `ZoneWeights`, every zone with a positive weight (each with its
 *   share); otherwise the local zone alone;
 * - then, from priority 1: the local zone when `ZoneWeights` does not list it (a local
 *   call is the cheapest fallback), followed by `Failover["*"].Targets` in order; without
 *   targets, every other zone shares the next priority;
 * - a zone weighted 0 is never used, nor, with targets, a zone none of this names.
 */
export function zonePlan(localZone: string, resolver: ServiceResolverEntry | undefined): ZonePlan {
  const weights = resolver?.ZoneWeights;
  const targets = resolver?.Failover?.['*']?.Targets.map((t) => t.Zone);
  const first = new Map<string, number>();
  const excluded = new Set<string>();
  if (weights) {
    for (const [zone, w] of Object.entries(weights)) {
      if (w > 0) first.set(zone, w);
      else excluded.add(zone);
    }
  } else {
    first.set(localZone, 1);
  }
  const fallbacks: string[] = [];
  const fallback = (zone: string): void => {
    if (!first.has(zone) && !excluded.has(zone) && !fallbacks.includes(zone)) fallbacks.push(zone);
  };
  fallback(localZone);
  for (const zone of targets ?? []) fallback(zone);
  return (zone) => {
    if (excluded.has(zone)) return undefined;
    const share = first.get(zone);
    if (share !== undefined) return weights ? { priority: 0, share } : { priority: 0 };
    const i = fallbacks.indexOf(zone);
    if (i >= 0) return { priority: i + 1 };
    // Without targets every other zone is a fallback, after the ones named.
    return targets ? undefined : { priority: fallbacks.length + 1 };
  };
}

/**
 * The plan of an upstream pinned to `zone` (`--upstream api@west:9002`): that zone's
 * endpoints at priority 0, no other zone at all — the local one included when the pin
 * names another — so no failover and no spreading.
 */
export function pinnedZonePlan(zone: string): ZonePlan {
  return (z) => (z === zone ? { priority: 0 } : undefined);
}

export interface Address {
  address: string;
  port: number;
}

/**
 * This zone's healthy (passing or warning) gateways' local listeners: catalog instances in
 * the zone with meta `causeway-kind: mesh-gateway`, sorted by address and port.
 */
export function localGateways(catalog: CatalogSnapshot, zone: string): readonly Address[] {
  // Every proxy's build asks the same snapshot; a scan of the whole catalog per proxy
  // would cost a zone with a thousand proxies a thousand scans per change.
  const cached = gatewayCache.get(catalog);
  if (cached?.zone === zone) return cached.gateways;
  const gateways = scanGateways(catalog, zone);
  gatewayCache.set(catalog, { zone, gateways });
  return gateways;
}

const gatewayCache = new WeakMap<CatalogSnapshot, { zone: string; gateways: readonly Address[] }>();

function scanGateways(catalog: CatalogSnapshot, zone: string): Address[] {
  const names = new Set<string>();
  for (const i of catalog.instances()) {
    if (i.meta[GATEWAY_KIND_META] === GATEWAY_KIND) names.add(i.service);
  }
  const out: Address[] = [];
  for (const name of names) {
    for (const { node, instance, health } of catalog.health(name)) {
      if (instance.meta[GATEWAY_KIND_META] !== GATEWAY_KIND || instance.zone !== zone) continue;
      if (health === 'critical' || instance.port < 1) continue;
      out.push({
        address: instance.address === '' ? node.address : instance.address,
        port: instance.port,
      });
    }
  }
  return dedupe(out);
}

/**
 * One endpoint per way into each remote zone that exports `service` in `namespace` to this
 * zone with at least one healthy instance: through each local gateway, or else directly to
 * each of that zone's healthy gateways. Their weights share the zone's healthy count (the
 * zone's capacity, as a count of instances is to a local cluster). A zone with no healthy
 * instance adds nothing: for the proxy an empty priority and an unhealthy one both spill
 * over to the next.
 */
export function remoteEndpoints(
  remotes: RemoteResources,
  gateways: readonly Address[],
  target: { service: string; namespace: string },
  localZone: string,
  plan: ZonePlan,
): Endpoint[] {
  const out: Endpoint[] = [];
  const zones = remotes.services.filter(
    (s) =>
      s.service === target.service &&
      s.namespace === target.namespace &&
      s.zone !== localZone &&
      s.healthy > 0,
  );
  for (const remote of zones) {
    const tier = plan(remote.zone);
    if (tier === undefined) continue;
    const via =
      gateways.length > 0
        ? gateways
        : dedupe(
            remotes.gateways
              .filter((g) => g.zone === remote.zone && g.health !== 'critical')
              .map((g) => ({ address: hostOf(g.publicAddress), port: g.publicPort })),
          );
    const weights = split(Math.min(remote.healthy, MAX_ENDPOINT_WEIGHT), via.length);
    via.forEach((g, i) => {
      out.push({
        address: g.address,
        port: g.port,
        zone: remote.zone,
        priority: tier.priority,
        health: 'passing',
        weight: weights[i] ?? 1,
        instanceId: `gateway:${remote.zone}`,
      });
    });
  }
  return out.sort((a, b) => a.priority - b.priority || compare(a.zone, b.zone));
}

/**
 * Turn the first priority's endpoint weights into `ZoneWeights` shares: each weighted
 * zone gets `share × 10 000` in total, divided among its endpoints by their own weights.
 * Critical endpoints count in the division, so a zone that loses half its instances loses
 * half its share (Envoy scales a locality's weight by its health the same way).
 */
export function applyZoneShares(endpoints: Endpoint[], plan: ZonePlan): Endpoint[] {
  const totals = new Map<string, number>();
  for (const e of endpoints) totals.set(e.zone, (totals.get(e.zone) ?? 0) + e.weight);
  return endpoints.map((e) => {
    const share = plan(e.zone)?.share;
    const total = totals.get(e.zone) ?? 0;
    if (share === undefined || total === 0) return e;
    const weight = Math.round((share * ZONE_WEIGHT_SCALE * e.weight) / total);
    return { ...e, weight: Math.min(MAX_ENDPOINT_WEIGHT, Math.max(1, weight)) };
  });
}

/** `total` split into `n` integer parts that differ by at most one, each at least 1. */
function split(total: number, n: number): number[] {
  const base = Math.floor(total / n);
  const rest = total % n;
  return Array.from({ length: n }, (_, i) => Math.max(1, base + (i < rest ? 1 : 0)));
}

/** `host:port` or `[v6]:port` → the host; a bare host or address stays as it is. */
export function hostOf(address: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (v6) return v6[1] ?? address;
  const hostPort = /^([^:]+):\d+$/.exec(address);
  return hostPort ? (hostPort[1] ?? address) : address;
}

function dedupe(list: Address[]): Address[] {
  const seen = new Map<string, Address>();
  for (const a of list) seen.set(`${a.address}|${a.port}`, a);
  return [...seen.values()].sort((a, b) => compare(a.address, b.address) || a.port - b.port);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

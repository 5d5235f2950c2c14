/**
 * Building an east-west gateway's config (`core/src/gateway-config/types.ts`) from what the
 * zone knows: a pure function of its catalog, its exports and the other zones' gateways
 * zone sync stored, so the same inputs always give the same config and the same version.
 *
 * - `services`: each service the zone's exported-services entry exports (per namespace)
 *   that has instances in this zone's catalog, `exportedTo` = the entry's consumers
 *   (`['*']` for every zone), `endpoints` = its instances fronted by a sidecar (the
 *   gateway pipes to the sidecar's inbound mTLS port, never to the app) with their
 *   aggregated health: critical ones stay in, marked, as in proxy snapshots, for the
 *   gateway to skip.
 * - `peers`: other zones' gateways by zone, healthy first. A zone's critical gateways are
 *   left out while it has another; when all of them are critical they stay (the health
 *   zone sync carries may be stale, and a failed tunnel attempt costs little).
 * - `tunnels`: the defaults.
 *
 * Every gateway of the zone gets the same config: which zones may reach a service is the
 * export's business, not the gateway's name.
 */
import { createHash } from 'node:crypto';
import { defaultTunnelSettings, isDnsLabel } from '../../../core/index.ts';
import type {
  CatalogSnapshot,
  ExportResource,
  GatewayConfig,
  GatewayEndpoint,
  GatewayPeer,
  GatewayService,
  HealthStatus,
  PeerGateway,
  RemoteGatewayResource,
  TunnelSettings,
} from '../../../core/index.ts';
import { GATEWAY_KIND, GATEWAY_KIND_META, hostOf } from '../proxy-stream/zone-endpoints.ts';

export interface GatewayConfigInputs {
  /** This zone's name. */
  zone: string;
  trustDomain: string;
  catalog: CatalogSnapshot;
  /** The zone's exports, as `exportsOf()` gives them. */
  exports: readonly ExportResource[];
  /** Other zones' gateways, from `sync/global/remote-gateway/`. */
  remoteGateways: readonly RemoteGatewayResource[];
  /** @default defaultTunnelSettings() */
  tunnels?: TunnelSettings;
}

/** The most gateways one peer zone may list (`decodeGatewayConfig`'s limit). */
const MAX_PEER_GATEWAYS = 64;

const HEALTH_RANK: Record<HealthStatus, number> = { passing: 0, warning: 1, critical: 2 };

/** The gateway config for this zone, `version` = a hash of everything else in it. */
export function buildGatewayConfig(inputs: GatewayConfigInputs): GatewayConfig {
  const services = inputs.exports.flatMap((e) => {
    const service = exportedService(inputs, e);
    return service ? [service] : [];
  });
  const body = {
    zone: inputs.zone,
    trustDomain: inputs.trustDomain,
    services,
    peers: peersOf(inputs.remoteGateways, inputs.zone),
    tunnels: inputs.tunnels ?? defaultTunnelSettings(),
  };
  return { version: versionOf(body), ...body };
}

/** 16 hex digits of the SHA-256 of the config's JSON (its fields in a fixed order). */
function versionOf(body: Omit<GatewayConfig, 'version'>): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
}

function exportedService(
  inputs: GatewayConfigInputs,
  e: ExportResource,
): GatewayService | undefined {
  const instances = inputs.catalog
    .health(e.service)
    .filter(
      ({ instance }) =>
        instance.namespace === e.namespace &&
        instance.zone === inputs.zone &&
        instance.meta[GATEWAY_KIND_META] !== GATEWAY_KIND,
    );
  // Exported but not running here: nothing to route to, and nothing for other zones to hear of.
  if (instances.length === 0) return undefined;
  const endpoints: GatewayEndpoint[] = [];
  for (const { node, instance, health } of instances) {
    if (instance.proxy.inbound === undefined) continue;
    endpoints.push({
      address: instance.address === '' ? node.address : instance.address,
      port: instance.proxy.inbound,
      health,
      instanceId: instance.id,
    });
  }
  endpoints.sort(
    (a, b) =>
      compare(a.address, b.address) || a.port - b.port || compare(a.instanceId, b.instanceId),
  );
  return {
    service: e.service,
    namespace: e.namespace,
    exportedTo: [...e.consumers],
    endpoints,
  };
}

function peersOf(gateways: readonly RemoteGatewayResource[], ownZone: string): GatewayPeer[] {
  const byZone = new Map<string, RemoteGatewayResource[]>();
  for (const g of gateways) {
    // A record about this zone would make it its own peer; a name that is not a DNS
    // label cannot be a peer gateway's name (zone sync's own names always are).
    if (g.zone === ownZone || !isDnsLabel(g.name)) continue;
    const list = byZone.get(g.zone) ?? [];
    list.push(g);
    byZone.set(g.zone, list);
  }
  const peers: GatewayPeer[] = [];
  for (const [zone, list] of byZone) {
    const usable = list.some((g) => g.health !== 'critical')
      ? list.filter((g) => g.health !== 'critical')
      : list;
    usable.sort((a, b) => HEALTH_RANK[a.health] - HEALTH_RANK[b.health] || compare(a.name, b.name));
    peers.push({
      zone,
      gateways: usable.slice(0, MAX_PEER_GATEWAYS).map((g): PeerGateway => ({
        name: g.name,
        address: hostOf(g.publicAddress),
        port: g.publicPort,
      })),
    });
  }
  return peers.sort((a, b) => compare(a.zone, b.zone));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

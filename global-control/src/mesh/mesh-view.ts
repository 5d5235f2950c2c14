/**
 * The mesh-wide read model, built from what zones synced to global
 * (`sync/zone/<zone>/<type>/<name>` → `StoredResource`, see core `federation/resources.ts`):
 * every service with its instance health per zone and the zones each zone exports it to,
 * and every east-west gateway.
 *
 * One listing of the prefix, so the view is consistent with one store index. A record
 * that does not parse is skipped (and logged): one bad record must not hide the mesh.
 */
import { GLOBAL_SYNC_PREFIX, HEALTH_STATUSES, isDnsLabel } from '../../../core/index.ts';
import type {
  ExportResource,
  GatewayResource,
  HealthStatus,
  InstanceResource,
  Logger,
  Store,
  StoredResource,
} from '../../../core/index.ts';

/** One service's instances in one zone. */
export interface ZoneServiceHealth {
  passing: number;
  warning: number;
  critical: number;
  total: number;
  /** Zones the service is exported to (`['*']` for all); empty when not exported. */
  exportedTo: string[];
}

export interface MeshService {
  namespace: string;
  service: string;
  /** By zone name. */
  zones: Record<string, ZoneServiceHealth>;
}

export interface MeshGateway extends GatewayResource {
  zone: string;
  /** When global received this version (ISO time). */
  receivedAt: string;
}

export interface MeshView {
  services: MeshService[];
  gateways: MeshGateway[];
  /** The store index the view is consistent with. */
  index: number;
}

interface Parsed {
  zone: string;
  type: string;
  stored: StoredResource<Record<string, unknown>>;
}

function parse(key: string, raw: Buffer): Parsed | undefined {
  const [zone, type, ...name] = key.slice(GLOBAL_SYNC_PREFIX.length).split('/');
  if (!isDnsLabel(zone) || type === undefined || name.length === 0) return undefined;
  const stored = JSON.parse(raw.toString('utf8')) as StoredResource<Record<string, unknown>>;
  if (typeof stored !== 'object' || stored === null || typeof stored.body !== 'object') {
    return undefined;
  }
  return { zone, type, stored };
}

const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';

export async function readMeshView(store: Store, logger: Logger): Promise<MeshView> {
  const { entries, index } = await store.list(GLOBAL_SYNC_PREFIX);
  const services = new Map<string, MeshService>();
  const gateways: MeshGateway[] = [];
  const entry = (namespace: string, service: string, zone: string): ZoneServiceHealth => {
    const id = `${namespace}/${service}`;
    let s = services.get(id);
    if (!s) {
      s = { namespace, service, zones: {} };
      services.set(id, s);
    }
    s.zones[zone] ??= { passing: 0, warning: 0, critical: 0, total: 0, exportedTo: [] };
    return s.zones[zone];
  };
  for (const e of entries) {
    let parsed: Parsed | undefined;
    try {
      parsed = parse(e.key, e.value);
    } catch {
      parsed = undefined;
    }
    const body = parsed?.stored.body;
    let used = false;
    if (parsed && body) {
      switch (parsed.type) {
        case 'instance': {
          const i = body as Partial<InstanceResource>;
          const health = i.health as HealthStatus;
          if (isString(i.namespace) && isString(i.service) && HEALTH_STATUSES.includes(health)) {
            const h = entry(i.namespace, i.service, parsed.zone);
            h[health]++;
            h.total++;
            used = true;
          }
          break;
        }
        case 'export': {
          const x = body as Partial<ExportResource>;
          if (
            isString(x.namespace) &&
            isString(x.service) &&
            Array.isArray(x.consumers) &&
            x.consumers.every(isString)
          ) {
            entry(x.namespace, x.service, parsed.zone).exportedTo = [...x.consumers].sort();
            used = true;
          }
          break;
        }
        case 'gateway': {
          const g = body as Partial<GatewayResource>;
          if (isString(g.name) && isString(g.publicAddress) && typeof g.publicPort === 'number') {
            gateways.push({
              zone: parsed.zone,
              name: g.name,
              publicAddress: g.publicAddress,
              publicPort: g.publicPort,
              health: g.health ?? 'critical',
              receivedAt: parsed.stored.receivedAt,
            });
            used = true;
          }
          break;
        }
        default:
          // Types this view does not show (the sync server may keep more under the prefix).
          used = true;
      }
    }
    if (!used) logger.warn({ key: e.key }, 'skipping a synced resource that does not parse');
  }
  const byName = (a: MeshService, b: MeshService) =>
    a.namespace.localeCompare(b.namespace) || a.service.localeCompare(b.service);
  return {
    services: [...services.values()].sort(byName),
    gateways: gateways.sort((a, b) => a.zone.localeCompare(b.zone) || a.name.localeCompare(b.name)),
    index,
  };
}

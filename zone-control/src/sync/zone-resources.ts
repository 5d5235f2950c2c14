/**
 * What a zone tells global about itself, read from its catalog, config entries and CA:
 * its service instances with aggregated health (`instance`), its east-west gateways
 * (`gateway`: catalog instances with `meta["causeway-kind"] = "mesh-gateway"`), what its
 * `exported-services` entry exports (`export`), and the leaves it issued and revoked
 * (`revocation`).
 */
import {
  CA_REVOKED_PREFIX,
  exportResourceName,
  exportsOf,
  parseSpiffeId,
  readCatalog,
  readConfigEntrySet,
  resourceName,
  zoneResourceValidators,
} from '../../../core/index.ts';
import type {
  ExportResource,
  GatewayResource,
  InstanceResource,
  Logger,
  RevocationResource,
  Store,
} from '../../../core/index.ts';

/** Catalog meta that marks an instance as an east-west gateway. */
export const GATEWAY_KIND_META = 'causeway-kind';
export const MESH_GATEWAY_KIND = 'mesh-gateway';
/** Catalog meta holding a gateway's public `host:port`. */
export const GATEWAY_PUBLIC_ADDR_META = 'causeway-public-addr';

export interface ZoneResources {
  instance: Map<string, InstanceResource>;
  gateway: Map<string, GatewayResource>;
}

/**
 * The zone's instances and gateways, by resource name. The catalog accepts names that
 * federation does not (Consul allows `Web_API` or an ID with spaces; SPIFFE IDs, SNI and
 * other zones' configs need DNS labels): those are left out and logged here, so one entry
 * cannot make global refuse the zone's whole set.
 */
export async function readZoneResources(store: Store, logger: Logger): Promise<ZoneResources> {
  const catalog = await readCatalog(store);
  const instance = new Map<string, InstanceResource>();
  const gateway = new Map<string, GatewayResource>();
  const services = new Set(catalog.instances().map((i) => i.service));
  for (const name of services) {
    for (const { node, instance: i, health } of catalog.health(name)) {
      if (i.meta[GATEWAY_KIND_META] === MESH_GATEWAY_KIND) {
        const publicAddr = parseHostPort(i.meta[GATEWAY_PUBLIC_ADDR_META]);
        if (!publicAddr) continue;
        keep(gateway, 'gateway', i.service, {
          name: i.service,
          publicAddress: publicAddr.host,
          publicPort: publicAddr.port,
          health,
        });
        continue;
      }
      const instanceId = `${i.node}/${i.id}`;
      keep(instance, 'instance', `${i.namespace}/${i.service}/${instanceId}`, {
        service: i.service,
        namespace: i.namespace,
        instanceId,
        node: i.node,
        address: i.address || node.address,
        port: i.port,
        ...(i.proxy.inbound === undefined ? {} : { inboundPort: i.proxy.inbound }),
        protocol: i.protocol,
        health,
        tags: i.tags,
        meta: i.meta,
      });
    }
  }
  return { instance, gateway };

  function keep<T>(
    into: Map<string, T>,
    type: 'instance' | 'gateway',
    name: string,
    body: T,
  ): void {
    try {
      resourceName(name, 'name');
      zoneResourceValidators[type](name, body);
      into.set(name, body);
    } catch (err) {
      logger.warn(
        { resourceType: type, name, reason: (err as Error).message },
        'not sending a catalog entry to global: its names do not fit federation (DNS labels)',
      );
    }
  }
}

/** The zone's exports, by resource name. */
export async function readZoneExports(
  store: Store,
  logger: Logger,
): Promise<Map<string, ExportResource>> {
  const entries = await readConfigEntrySet(store, (key, err) =>
    logger.error({ key, err: String(err) }, 'skipping an unreadable config entry'),
  );
  return new Map(exportsOf(entries).map((e) => [exportResourceName(e), e]));
}

/**
 * The zone's revocations of leaves it issued itself, unexpired at `now`, by serial.
 * `ca/revoked/` also holds other zones' revocations (mirrored there from global, see
 * `revocation-projection.ts`): those are not this zone's to send, and are left out by
 * their SPIFFE ID's zone. A record global would refuse is left out and logged, so it
 * cannot hold back the others.
 */
export async function readZoneRevocations(
  store: Store,
  zone: string,
  logger: Logger,
  now = Date.now(),
): Promise<Map<string, RevocationResource>> {
  const out = new Map<string, RevocationResource>();
  const { entries } = await store.list(CA_REVOKED_PREFIX);
  for (const entry of entries) {
    const name = entry.key.slice(CA_REVOKED_PREFIX.length);
    try {
      const record = JSON.parse(entry.value.toString()) as RevocationResource;
      if (parseSpiffeId(record.spiffeId).zone !== zone) continue;
      if (!(Date.parse(record.notAfter) > now)) continue;
      const { serial, spiffeId, reason, revokedAt, notAfter } = record;
      const body: RevocationResource = { serial, spiffeId, reason, revokedAt, notAfter };
      zoneResourceValidators.revocation(name, body);
      out.set(name, body);
    } catch (err) {
      logger.warn(
        { key: entry.key, reason: err instanceof Error ? err.message : String(err) },
        'not sending a revocation record to global: it is unreadable or malformed',
      );
    }
  }
  return out;
}

function parseHostPort(value: string | undefined): { host: string; port: number } | undefined {
  const match = /^(.+):(\d{1,5})$/.exec(value ?? '');
  if (!match?.[1] || !match[2]) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * What this zone knows about other zones, as zone sync stored it under `sync/global/`
 * (`core/src/federation/resources.ts`): the services other zones export to it, with their
 * healthy instance counts (`remote-service/<zone>/<namespace>/<service>`), and their
 * gateways (`remote-gateway/<zone>/<name>`). The snapshot builder turns these into
 * endpoints; only the counts and gateway addresses cross zones, never instances.
 *
 * Records come from the global control plane, so each is checked before it is used: one
 * that does not have the expected shape is skipped (and reported through `onError`)
 * rather than failing every proxy's snapshot.
 */
import { HEALTH_STATUSES, PROTOCOLS, isDnsLabel } from '../../../core/index.ts';
import type { Entry, Store } from '../../../core/index.ts';
import { globalResourcePrefix } from '../../../core/src/federation/resources.ts';
import type {
  RemoteGatewayResource,
  RemoteServiceResource,
  StoredResource,
} from '../../../core/src/federation/resources.ts';

/** Other zones' exported services and gateways, as this zone last heard of them. */
export interface RemoteResources {
  /** Sorted by zone, namespace, service. */
  services: RemoteServiceResource[];
  /** Sorted by zone, name. */
  gateways: RemoteGatewayResource[];
}

/** No other zone known (a zone that has never synced with global). */
export const NO_REMOTES: RemoteResources = Object.freeze({ services: [], gateways: [] });

/** The prefixes the snapshot inputs read and watch. */
export const REMOTE_SERVICE_PREFIX = globalResourcePrefix('remote-service');
export const REMOTE_GATEWAY_PREFIX = globalResourcePrefix('remote-gateway');

/** Read both kinds of record; unreadable ones go to `onError` and are left out. */
export async function readRemoteResources(
  store: Store,
  onError: (key: string, err: unknown) => void,
): Promise<RemoteResources> {
  const [services, gateways] = await Promise.all([
    store.list(REMOTE_SERVICE_PREFIX),
    readRemoteGateways(store, onError),
  ]);
  return {
    services: decodeAll(services.entries, decodeRemoteService, onError).sort(
      (a, b) =>
        compare(a.zone, b.zone) ||
        compare(a.namespace, b.namespace) ||
        compare(a.service, b.service),
    ),
    gateways,
  };
}

/**
 * Other zones' gateways alone, sorted by zone and name (what the gateway config needs);
 * unreadable records go to `onError` and are left out.
 */
export async function readRemoteGateways(
  store: Store,
  onError: (key: string, err: unknown) => void,
): Promise<RemoteGatewayResource[]> {
  const { entries } = await store.list(REMOTE_GATEWAY_PREFIX);
  return decodeAll(entries, decodeRemoteGateway, onError).sort(
    (a, b) => compare(a.zone, b.zone) || compare(a.name, b.name),
  );
}

function decodeAll<T>(
  entries: Entry[],
  decode: (body: unknown) => T,
  onError: (key: string, err: unknown) => void,
): T[] {
  const out: T[] = [];
  for (const entry of entries) {
    try {
      const stored = JSON.parse(entry.value.toString('utf8')) as StoredResource;
      if (typeof stored !== 'object' || stored === null) throw new Error('not an object');
      out.push(decode(stored.body));
    } catch (err) {
      onError(entry.key, err);
    }
  }
  return out;
}

/** A `remote-service` body, checked. */
export function decodeRemoteService(body: unknown): RemoteServiceResource {
  const b = object(body);
  return {
    zone: name(b, 'zone'),
    service: name(b, 'service'),
    namespace: name(b, 'namespace'),
    protocol: oneOf(b, 'protocol', PROTOCOLS),
    healthy: count(b, 'healthy'),
    total: count(b, 'total'),
  };
}

/** A `remote-gateway` body, checked. */
export function decodeRemoteGateway(body: unknown): RemoteGatewayResource {
  const b = object(body);
  const publicAddress = b.publicAddress;
  if (typeof publicAddress !== 'string' || publicAddress === '' || publicAddress.length > 255) {
    throw new Error('publicAddress must be a host name or address');
  }
  const publicPort = b.publicPort;
  if (
    !Number.isInteger(publicPort) ||
    (publicPort as number) < 1 ||
    (publicPort as number) > 65535
  ) {
    throw new Error('publicPort must be a port number');
  }
  if (typeof b.name !== 'string' || b.name === '' || b.name.length > 256) {
    throw new Error('name must be a gateway name');
  }
  return {
    zone: name(b, 'zone'),
    name: b.name,
    publicAddress,
    publicPort: publicPort as number,
    health: oneOf(b, 'health', HEALTH_STATUSES),
  };
}

function object(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new Error('body must be an object');
  }
  return v as Record<string, unknown>;
}

function name(b: Record<string, unknown>, key: string): string {
  const v = b[key];
  if (typeof v !== 'string' || !isDnsLabel(v)) throw new Error(`${key} must be a DNS label`);
  return v;
}

function count(b: Record<string, unknown>, key: string): number {
  const v = b[key];
  if (!Number.isSafeInteger(v) || (v as number) < 0) {
    throw new Error(`${key} must be a non-negative integer`);
  }
  return v as number;
}

function oneOf<T extends string>(b: Record<string, unknown>, key: string, values: readonly T[]): T {
  const v = b[key];
  if (typeof v !== 'string' || !values.includes(v as T)) {
    throw new Error(`${key} must be one of ${values.join(', ')}`);
  }
  return v as T;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The resources zone sync carries between the global control plane and the zones, and
 * where each side keeps them in its store. Both directions use the same envelope (see
 * `sync-messages.ts`): a resource type, a name unique within the type, and a JSON body.
 *
 * Zone → global: what the zone runs (`instance`), its gateways (`gateway`), what it
 * exports (`export`), and the leaves it revoked (`revocation`). Global → zone: other
 * zones' exported services (`remote-service`), other zones' gateways (`remote-gateway`),
 * global KV (`kv`), global policies (`policy`) and other zones' revoked leaves
 * (`remote-revocation`). A zone never sees another zone's instances: its proxies reach a
 * remote service through gateways, so a count of healthy instances per zone is all they
 * need.
 */
import type { RevocationRecord } from '../ca/ca-state.ts';
import type { HealthStatus, Protocol } from '../catalog/types.ts';

/** Resource types a zone sends to global. */
export const ZONE_RESOURCE_TYPES = ['instance', 'gateway', 'export', 'revocation'] as const;
export type ZoneResourceType = (typeof ZONE_RESOURCE_TYPES)[number];

/** Resource types global sends to a zone. */
export const GLOBAL_RESOURCE_TYPES = [
  'remote-service',
  'remote-gateway',
  'kv',
  'policy',
  'remote-revocation',
] as const;
export type GlobalResourceType = (typeof GLOBAL_RESOURCE_TYPES)[number];

export type ResourceType = ZoneResourceType | GlobalResourceType;

/**
 * `instance`, named `<namespace>/<service>/<instanceId>`: one service instance of the zone
 * with its aggregated health.
 */
export interface InstanceResource {
  service: string;
  namespace: string;
  instanceId: string;
  node: string;
  address: string;
  port: number;
  /** The sidecar's inbound mTLS port, when the instance has a sidecar. */
  inboundPort?: number;
  protocol: Protocol;
  health: HealthStatus;
  tags: string[];
  meta: Record<string, string>;
}

/**
 * `gateway`, named `<gatewayName>`: an east-west gateway of the zone and the address peer
 * gateways and remote proxies reach it on.
 */
export interface GatewayResource {
  name: string;
  /** host:port other zones dial (the gateway's `--public-addr`). */
  publicAddress: string;
  publicPort: number;
  health: HealthStatus;
}

/**
 * `export`, named `<namespace>/<service>`: the service may be reached from the listed
 * zones (`['*']` for every zone). Made from the zone's `exported-services` config entry.
 */
export interface ExportResource {
  service: string;
  namespace: string;
  /** Zone names, or `'*'` alone for all zones. */
  consumers: string[];
}

/**
 * `remote-service`, named `<zone>/<namespace>/<service>`: a service another zone exports
 * to this one, with its instance counts there.
 */
export interface RemoteServiceResource {
  zone: string;
  service: string;
  namespace: string;
  protocol: Protocol;
  /** Instances passing or warning. */
  healthy: number;
  total: number;
}

/** `remote-gateway`, named `<zone>/<gatewayName>`: another zone's gateway. */
export interface RemoteGatewayResource extends GatewayResource {
  zone: string;
}

/**
 * `kv`, named by the SHA-256 (hex) of its key (`kvResourceName`): a global KV entry,
 * replicated read-only to every zone.
 */
export interface KvResource {
  key: string;
  /** base64 */
  value: string;
  flags: number;
  /** The global store's modify index of this entry. */
  modifyIndex: number;
}

/**
 * `policy`, named `<kind>/<namespace>/<name>`: a config entry written at global, applied
 * in every zone (see {@link GLOBAL_POLICY_KINDS}).
 */
export interface PolicyResource {
  kind: string;
  namespace: string;
  name: string;
  /** The entry as Consul's `/v1/config` takes it (decoded and checked by the zone). */
  entry: Record<string, unknown>;
}

/**
 * Config entry kinds global can hold as mesh-wide policies. `exported-services` is not
 * one: each zone decides what it exports.
 */
export const GLOBAL_POLICY_KINDS = [
  'service-defaults',
  'service-resolver',
  'service-splitter',
  'service-router',
  'service-intentions',
] as const;

export const policyResourceName = (kind: string, namespace: string, name: string): string =>
  `${kind}/${namespace}/${name}`;

/**
 * The Meta key a zone adds to a global policy it applies (`"global"`), so `/v1/config`
 * readers can tell it from the zone's own entries. Reserved: a policy may not set it, and
 * may have one Meta key fewer than a config entry (64), leaving room for it.
 */
export const POLICY_ORIGIN_META = 'causeway-origin';
export const MAX_POLICY_META_KEYS = 63;

/**
 * `revocation`, named by the leaf's serial (lowercase hex, no leading zeros): a leaf the
 * zone issued and revoked, exactly as its CA records it at `ca/revoked/<serial>`. Every
 * zone trusts the same global root, so every zone must refuse it; the zone sends it until
 * the leaf expires (an expired leaf is refused anyway).
 */
export type RevocationResource = RevocationRecord;

/**
 * `remote-revocation`, named `<zone>/<serial>`: a leaf another zone (`zone`, also the zone
 * of its SPIFFE ID) issued and revoked. The receiving zone lists it with its own
 * revocations (`ca/revoked/<serial>`), so its trust bundle's `revokedSerials` carry it.
 */
export interface RemoteRevocationResource extends RevocationResource {
  zone: string;
}

export const remoteRevocationName = (zone: string, serial: string): string => `${zone}/${serial}`;

export interface ResourceBodies {
  instance: InstanceResource;
  gateway: GatewayResource;
  export: ExportResource;
  'remote-service': RemoteServiceResource;
  'remote-gateway': RemoteGatewayResource;
  kv: KvResource;
  policy: PolicyResource;
  revocation: RevocationResource;
  'remote-revocation': RemoteRevocationResource;
}

/**
 * Store layout. At global, what zone `<zone>` sent: `sync/zone/<zone>/<type>/<name>` →
 * {@link StoredResource}. At a zone, what global sent: `sync/global/<type>/<name>`. The
 * receiver's last acknowledged revision per type sits beside them (`…/<type>` + `#rev`
 * under `sync/rev/`), written in the same transaction as the resources it covers.
 */
export const GLOBAL_SYNC_PREFIX = 'sync/zone/';
export const ZONE_SYNC_PREFIX = 'sync/global/';

export const zoneResourcePrefix = (zone: string, type?: ResourceType): string =>
  `${GLOBAL_SYNC_PREFIX}${zone}/${type ? `${type}/` : ''}`;
export const globalResourcePrefix = (type?: ResourceType): string =>
  `${ZONE_SYNC_PREFIX}${type ? `${type}/` : ''}`;

/** How a received resource is stored. */
export interface StoredResource<T = unknown> {
  /** The sender's version of this resource (changes whenever its body does). */
  version: string;
  body: T;
  /** When this side received this version (ISO time). */
  receivedAt: string;
}

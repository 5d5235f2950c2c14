/**
 * The catalog model every process shares: nodes, service instances on them, health checks,
 * and the service definitions registrars describe. Records are stored as JSON under
 * `catalog/node/<node>`, `catalog/service/<node>/<serviceId>` and
 * `catalog/check/<node>/<checkId>` (see `keys.ts`), so they map 1:1 onto Consul's catalog
 * while carrying what Causeway adds: the zone, the protocol, proxy ports, and the
 * registrar that owns each record.
 */

/** Wire protocols a service port speaks; picks how proxies treat its traffic. */
export const PROTOCOLS = ['tcp', 'http', 'grpc'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Health states as Consul names them. */
export const HEALTH_STATUSES = ['passing', 'warning', 'critical'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

/** Who registers catalog records. */
export const SOURCE_KINDS = ['consul-api', 'proxy', 'kubernetes'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

/**
 * The registrar that owns a record. Only the same kind and owner may update or remove it,
 * so the Kubernetes watcher, a proxy's self-registration and Consul clients never overwrite
 * each other's entries.
 */
export interface Source {
  kind: SourceKind;
  /** Which registrar of that kind: a cluster, a proxy's instance name, `consul-api`. */
  owner: string;
}

/** Every record written through the Consul-compatible HTTP API. */
export const CONSUL_API_SOURCE: Source = Object.freeze({ kind: 'consul-api', owner: 'consul-api' });

/** The namespace a service or instance is in when none is named. */
export const DEFAULT_NAMESPACE = 'default';

/** A machine, VM or pod that instances run on (Consul's node). */
export interface CatalogNode {
  name: string;
  /** IP or host name other nodes reach it on. */
  address: string;
  /** Consul's node ID: a UUID, or "" when none was given. */
  id: string;
  /** The zone the node is in. */
  zone: string;
  taggedAddresses: Record<string, string>;
  meta: Record<string, string>;
  source: Source;
}

export interface ServicePort {
  /** Optional name for the port (`"http"`, `"metrics"`). */
  name?: string;
  port: number;
  protocol: Protocol;
}

/**
 * What a service is, independent of where it runs: a name in a namespace and the ports it
 * exposes. Registrars that know this (Kubernetes Services) describe it; instances reference
 * it by name.
 */
export interface ServiceDefinition {
  name: string;
  namespace: string;
  ports: ServicePort[];
  tags: string[];
  meta: Record<string, string>;
}

/** Ports of the sidecar proxy in front of an instance. */
export interface ProxyPorts {
  /** The mTLS inbound listener. */
  inbound?: number;
  /** The proxy's admin and metrics listener. */
  admin?: number;
}

/** How much traffic an instance gets while passing or warning (Consul's `Weights`). */
export interface Weights {
  passing: number;
  warning: number;
}

/**
 * One running copy of a service on a node (Consul's `NodeService`). Its health is not
 * stored on it: it is aggregated from its checks and the node's checks at read time
 * (see {@link aggregateHealth}), so a status change writes one check record only.
 */
export interface ServiceInstance {
  /** Unique on its node; Consul's `ServiceID` (defaults to the service name). */
  id: string;
  /** The service name; Consul's `Service`. */
  service: string;
  namespace: string;
  node: string;
  zone: string;
  /** Where to reach it; "" means the node's address, as in Consul. */
  address: string;
  /** 0 when the instance has no port. */
  port: number;
  protocol: Protocol;
  proxy: ProxyPorts;
  tags: string[];
  meta: Record<string, string>;
  weights: Weights;
  source: Source;
}

/** What a monitored check runs, with durations in milliseconds. */
export interface CheckDefinition {
  http?: string;
  method?: string;
  header?: Record<string, string[]>;
  body?: string;
  tlsSkipVerify?: boolean;
  tlsServerName?: string;
  disableRedirects?: boolean;
  tcp?: string;
  ttlMs?: number;
  intervalMs?: number;
  timeoutMs?: number;
  /** Deregister the check's service once the check has been critical this long. */
  deregisterCriticalServiceAfterMs?: number;
}

export type CheckType = 'http' | 'tcp' | 'ttl' | '';

/** One health check on a node, or on a service instance of that node. */
export interface HealthCheck {
  node: string;
  /** Unique on its node. */
  checkId: string;
  name: string;
  status: HealthStatus;
  notes: string;
  output: string;
  /** "" for a node-level check. */
  serviceId: string;
  serviceName: string;
  type: CheckType;
  definition: CheckDefinition;
  /**
   * Whether the zone control plane runs this check. Checks registered through the agent
   * API or by proxies are run; `/v1/catalog/register` only records a status, as in Consul.
   */
  monitored: boolean;
  source: Source;
}

/** Where a record sits in the store: its key's create and modify indexes. */
export interface Indexed {
  createIndex: number;
  modifyIndex: number;
}

export type Stored<T> = T & Indexed;

/**
 * Everything one registration writes, in one transaction: the node, optionally one service
 * instance, and checks on the node or on its instances.
 */
export interface Registration {
  node: CatalogNode;
  /** Leave an existing node record as it is (Consul's `SkipNodeUpdate`). */
  skipNodeUpdate?: boolean;
  service?: ServiceInstance;
  checks?: HealthCheck[];
  /**
   * Remove the registered service's checks that this registration does not list (the
   * agent API's `?replace-existing-checks`). Otherwise registration only adds and updates.
   */
  replaceServiceChecks?: boolean;
  /**
   * Keep the stored status and output of a check that is registered again, instead of
   * taking the registration's (initial) status: the agent API re-registering a service
   * must not reset its checks.
   */
  preserveCheckStatus?: boolean;
}

/** What to remove: a whole node (with its services and checks), one service, or one check. */
export interface Deregistration {
  node: string;
  serviceId?: string;
  checkId?: string;
}

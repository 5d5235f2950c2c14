/**
 * The catalog model → Consul's JSON shapes (`structs.Node`, `ServiceNode`, `NodeService`,
 * `HealthCheck`, `api.AgentService`), field for field in Consul's order. Lists and maps are
 * never null (Consul turns nil tags into `[]` on these endpoints, and clients iterate them
 * without checking). Enterprise-only fields (Namespace, Partition) and Connect fields are
 * not emitted.
 */
import type {
  CatalogNode,
  CheckDefinition,
  HealthCheck,
  ServiceInstance,
  Stored,
} from '../../../core/src/catalog/types.ts';
import { formatGoDuration } from '../http/go-duration.ts';

/** `structs.Node`: `/v1/catalog/nodes` items, `Node` of `/v1/catalog/node/<n>` and health. */
export function consulNode(node: Stored<CatalogNode>, datacenter: string) {
  return {
    ID: node.id,
    Node: node.name,
    Address: node.address,
    Datacenter: datacenter,
    TaggedAddresses: node.taggedAddresses,
    Meta: node.meta,
    CreateIndex: node.createIndex,
    ModifyIndex: node.modifyIndex,
  };
}

function weights(instance: ServiceInstance) {
  return { Passing: instance.weights.passing, Warning: instance.weights.warning };
}

/** `structs.ServiceNode`: the items of `/v1/catalog/service/<name>`. */
export function consulServiceNode(
  node: Stored<CatalogNode> | undefined,
  instance: Stored<ServiceInstance>,
  datacenter: string,
) {
  return {
    ID: node?.id ?? '',
    Node: instance.node,
    Address: node?.address ?? '',
    Datacenter: datacenter,
    TaggedAddresses: node?.taggedAddresses ?? {},
    NodeMeta: node?.meta ?? {},
    ServiceKind: '',
    ServiceID: instance.id,
    ServiceName: instance.service,
    ServiceTags: instance.tags,
    ServiceAddress: instance.address,
    ServiceWeights: weights(instance),
    ServiceMeta: instance.meta,
    ServicePort: instance.port,
    ServiceEnableTagOverride: false,
    ServiceProxy: { MeshGateway: {}, Expose: {} },
    ServiceConnect: {},
    CreateIndex: instance.createIndex,
    ModifyIndex: instance.modifyIndex,
  };
}

/** `structs.NodeService`: `Services` of `/v1/catalog/node/<n>`, `Service` of health entries. */
export function consulNodeService(instance: Stored<ServiceInstance>) {
  return {
    ID: instance.id,
    Service: instance.service,
    Tags: instance.tags,
    Address: instance.address,
    Meta: instance.meta,
    Port: instance.port,
    Weights: weights(instance),
    EnableTagOverride: false,
    Proxy: { MeshGateway: {}, Expose: {} },
    Connect: {},
    CreateIndex: instance.createIndex,
    ModifyIndex: instance.modifyIndex,
  };
}

/** `api.AgentService`: the values of `/v1/agent/services`. */
export function consulAgentService(instance: Stored<ServiceInstance>, datacenter: string) {
  return {
    ID: instance.id,
    Service: instance.service,
    Tags: instance.tags,
    Meta: instance.meta,
    Port: instance.port,
    Address: instance.address,
    Weights: weights(instance),
    EnableTagOverride: false,
    Datacenter: datacenter,
  };
}

function definition(def: CheckDefinition) {
  const out: Record<string, unknown> = {};
  if (def.http !== undefined) out.HTTP = def.http;
  if (def.header !== undefined) out.Header = def.header;
  if (def.method !== undefined) out.Method = def.method;
  if (def.body !== undefined) out.Body = def.body;
  if (def.tlsServerName !== undefined) out.TLSServerName = def.tlsServerName;
  if (def.tlsSkipVerify !== undefined) out.TLSSkipVerify = def.tlsSkipVerify;
  if (def.disableRedirects !== undefined) out.DisableRedirects = def.disableRedirects;
  if (def.tcp !== undefined) out.TCP = def.tcp;
  if (def.ttlMs !== undefined) out.TTL = formatGoDuration(def.ttlMs);
  if (def.intervalMs !== undefined) out.Interval = formatGoDuration(def.intervalMs);
  if (def.timeoutMs !== undefined) out.Timeout = formatGoDuration(def.timeoutMs);
  if (def.deregisterCriticalServiceAfterMs !== undefined) {
    out.DeregisterCriticalServiceAfter = formatGoDuration(def.deregisterCriticalServiceAfterMs);
  }
  return out;
}

/**
 * `structs.HealthCheck`. `ServiceName` and `ServiceTags` come from the instance as it is
 * now, so a re-registered service's checks show its current name and tags.
 */
export function consulCheck(check: Stored<HealthCheck>, instance?: ServiceInstance) {
  const def = check.definition;
  return {
    Node: check.node,
    CheckID: check.checkId,
    Name: check.name,
    Status: check.status,
    Notes: check.notes,
    Output: check.output,
    ServiceID: check.serviceId,
    ServiceName: instance?.service ?? check.serviceName,
    ServiceTags: instance?.tags ?? [],
    Type: check.type,
    Interval: def.intervalMs === undefined ? '' : formatGoDuration(def.intervalMs),
    Timeout: def.timeoutMs === undefined ? '' : formatGoDuration(def.timeoutMs),
    ExposedPort: 0,
    Definition: definition(def),
    CreateIndex: check.createIndex,
    ModifyIndex: check.modifyIndex,
  };
}

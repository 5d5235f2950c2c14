/**
 * `/v1/catalog/register` and `/v1/catalog/deregister` bodies → the catalog model.
 *
 * Rules and messages follow Consul's catalog endpoint (`agent/consul/catalog_endpoint.go`):
 * a node name is required ("Must provide node"), so is an address unless `SkipNodeUpdate`,
 * a service ID defaults to its name, a check ID to its name, a check's node to the
 * registration's, and a check's status to critical. Checks registered here only record a
 * status — Consul does not run them either.
 */
import { InvalidArgumentError } from '../../../core/index.ts';
import {
  checkTypeOf,
  validateAddress,
  validateStatus,
} from '../../../core/src/catalog/validate.ts';
import {
  CONSUL_API_SOURCE,
  DEFAULT_NAMESPACE,
  PROTOCOLS,
} from '../../../core/src/catalog/types.ts';
import type {
  CatalogNode,
  CheckDefinition,
  Deregistration,
  HealthCheck,
  Protocol,
  Registration,
  ServiceInstance,
  Weights,
} from '../../../core/src/catalog/types.ts';
import { ConsulObject } from './consul-json.ts';

function required(obj: ConsulObject, name: string, message: string): string {
  const value = obj.string(name);
  if (value === '') throw new InvalidArgumentError(message, obj.field(name));
  return value;
}

/** The protocol an instance speaks: its `protocol` meta when that names one, else tcp. */
export function protocolOf(meta: Record<string, string>): Protocol {
  const p = meta.protocol?.toLowerCase();
  return PROTOCOLS.includes(p as Protocol) ? (p as Protocol) : 'tcp';
}

/**
 * A service's `Address`: "" means the node's. Wildcards get Consul's "Invalid service
 * address"; the rest of the address rules name the field.
 */
export function serviceAddress(obj: ConsulObject): string {
  const address = obj.string('Address');
  if (['0.0.0.0', '::', '[::]'].includes(address)) {
    throw new InvalidArgumentError('Invalid service address', obj.field('Address'));
  }
  return validateAddress(address, obj.field('Address'), { allowEmpty: true });
}

export function decodeWeights(obj: ConsulObject): Weights {
  const w = obj.object('Weights');
  if (w === undefined) return { passing: 1, warning: 1 };
  return { passing: w.integer('Passing', 1), warning: w.integer('Warning', 1) };
}

/** The service part of a catalog registration (`Service`: ID, Service, Tags, …). */
function decodeCatalogService(svc: ConsulObject, node: string, zone: string): ServiceInstance {
  const name = svc.string('Service');
  const id = svc.string('ID') || name;
  if (name === '') {
    throw new InvalidArgumentError(
      id === ''
        ? 'Must provide service name (Service.Service)'
        : 'Must provide service name (Service.Service) when service ID is provided',
      svc.field('Service'),
    );
  }
  const meta = svc.meta('Meta');
  return {
    id,
    service: name,
    namespace: svc.string('Namespace') || DEFAULT_NAMESPACE,
    node,
    zone,
    address: serviceAddress(svc),
    port: svc.port('Port'),
    protocol: protocolOf(meta),
    proxy: {},
    tags: svc.tags('Tags'),
    meta,
    weights: decodeWeights(svc),
    source: CONSUL_API_SOURCE,
  };
}

/** A catalog check's `Definition` (what an agent would run; stored, not run). */
function decodeDefinition(def: ConsulObject | undefined): CheckDefinition {
  if (def === undefined) return {};
  const out: CheckDefinition = {};
  const http = def.optionalString('HTTP');
  if (http) out.http = http;
  const tcp = def.optionalString('TCP');
  if (tcp) out.tcp = tcp;
  const method = def.optionalString('Method');
  if (method) out.method = method;
  const header = def.header('Header');
  if (header) out.header = header;
  if (def.has('TLSSkipVerify')) out.tlsSkipVerify = def.boolean('TLSSkipVerify');
  const interval = def.duration('IntervalDuration', 'Interval');
  if (interval) out.intervalMs = interval;
  const timeout = def.duration('TimeoutDuration', 'Timeout');
  if (timeout) out.timeoutMs = timeout;
  const dcsa = def.duration(
    'DeregisterCriticalServiceAfterDuration',
    'DeregisterCriticalServiceAfter',
  );
  if (dcsa) out.deregisterCriticalServiceAfterMs = dcsa;
  return out;
}

function decodeCatalogCheck(chk: ConsulObject, node: string): HealthCheck {
  const name = chk.string('Name');
  const checkId = chk.string('CheckID') || name;
  if (checkId === '') {
    throw new InvalidArgumentError(
      'Must provide check name (Name) or ID (CheckID)',
      chk.field('Name'),
    );
  }
  const checkNode = chk.string('Node') || node;
  if (checkNode !== node) {
    throw new InvalidArgumentError(
      `Node '${checkNode}' for check '${checkId}' doesn't match register request node '${node}'`,
      chk.field('Node'),
    );
  }
  const status = chk.string('Status') || 'critical';
  const definition = decodeDefinition(chk.object('Definition'));
  return {
    node,
    checkId,
    name: name || checkId,
    status: validateStatus(status, chk.field('Status')),
    notes: chk.string('Notes'),
    output: chk.string('Output'),
    serviceId: chk.string('ServiceID'),
    serviceName: '',
    type: checkTypeOf(definition),
    definition,
    monitored: false,
    source: CONSUL_API_SOURCE,
  };
}

/** Decode a `/v1/catalog/register` body for the zone named `zone`. */
export function decodeCatalogRegister(body: unknown, zone: string): Registration {
  const obj = ConsulObject.body(body);
  const node = required(obj, 'Node', 'Must provide node');
  const skipNodeUpdate = obj.boolean('SkipNodeUpdate');
  const address = obj.string('Address');
  if (address === '' && !skipNodeUpdate) {
    throw new InvalidArgumentError(
      'Must provide address if SkipNodeUpdate is not set',
      obj.field('Address'),
    );
  }
  const catalogNode: CatalogNode = {
    name: node,
    address: address === '' ? address : validateAddress(address, obj.field('Address')),
    id: obj.string('ID'),
    zone,
    taggedAddresses: obj.stringMap('TaggedAddresses'),
    meta: obj.meta('NodeMeta'),
    source: CONSUL_API_SOURCE,
  };
  if (
    catalogNode.id !== '' &&
    !/^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(catalogNode.id)
  ) {
    throw new InvalidArgumentError(
      `Bad node ID: "${catalogNode.id}" is not a UUID`,
      obj.field('ID'),
    );
  }
  const svc = obj.object('Service');
  const checks = [...obj.objects('Checks')];
  const single = obj.object('Check');
  if (single !== undefined) checks.push(single);
  return {
    node: catalogNode,
    skipNodeUpdate,
    service: svc === undefined ? undefined : decodeCatalogService(svc, node, zone),
    checks: checks.map((c) => decodeCatalogCheck(c, node)),
  };
}

/** Decode a `/v1/catalog/deregister` body. */
export function decodeCatalogDeregister(body: unknown): Deregistration {
  const obj = ConsulObject.body(body);
  const node = required(obj, 'Node', 'Must provide node');
  const serviceId = obj.string('ServiceID');
  const checkId = obj.string('CheckID');
  return {
    node,
    ...(serviceId === '' ? {} : { serviceId }),
    ...(checkId === '' ? {} : { checkId }),
  };
}

/**
 * Catalog input rules. Each check throws an {@link InvalidArgumentError} naming the field,
 * so an API can answer "Service.Port must be an integer from 0 to 65535" rather than a bare
 * 400. The field helpers take the field's name from the caller: the Consul API passes
 * Consul's names (`Service.Port`), native callers the model's (`service.port`).
 */
import { InvalidArgumentError } from '../errors.ts';
import { HEALTH_STATUSES, PROTOCOLS, SOURCE_KINDS } from './types.ts';
import type {
  CatalogNode,
  CheckDefinition,
  HealthCheck,
  HealthStatus,
  Protocol,
  Registration,
  ServiceDefinition,
  ServiceInstance,
  Source,
  Weights,
} from './types.ts';

/** Longest node name, service name, service ID or check ID, in characters. */
export const MAX_NAME_LENGTH = 256;
/** Consul's limits on metadata. */
export const MAX_META_PAIRS = 64;
export const MAX_META_KEY_LENGTH = 128;
export const MAX_META_VALUE_LENGTH = 512;
/** Checks one registration may carry: the whole registration is one store transaction. */
export const MAX_CHECKS_PER_REGISTRATION = 32;

// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u001f\u007f]/;
const metaKeyFormat = /^[a-zA-Z0-9_-]+$/;

function fail(field: string, message: string): never {
  throw new InvalidArgumentError(`${field} ${message}`, field);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A string, or a 400 naming the field and the type that came instead. */
export function validateString(value: unknown, field: string): string {
  if (typeof value !== 'string') fail(field, `must be a string, got ${typeName(value)}`);
  return value;
}

/** A node name, service name, service ID or check ID: 1–256 characters, no control characters. */
export function validateName(value: unknown, field: string): string {
  const name = validateString(value, field);
  if (name.length === 0) fail(field, 'must not be empty');
  if (name.length > MAX_NAME_LENGTH) fail(field, `must be at most ${MAX_NAME_LENGTH} characters`);
  if (controlChars.test(name)) fail(field, 'must not contain control characters');
  return name;
}

/** A TCP port, or 0 for "no port". */
export function validatePort(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    fail(
      field,
      `must be an integer from 0 to 65535, got ${JSON.stringify(value) ?? typeName(value)}`,
    );
  }
  if (value < 0 || value > 65535) fail(field, `must be an integer from 0 to 65535, got ${value}`);
  return value;
}

/**
 * An address (IP or host name); `allowEmpty` for a service address, where "" means the
 * node's. The wildcard addresses are refused, as Consul does: nobody can connect to them.
 */
export function validateAddress(
  value: unknown,
  field: string,
  options: { allowEmpty?: boolean } = {},
): string {
  const address = validateString(value, field);
  if (address.length === 0) {
    if (options.allowEmpty === true) return address;
    fail(field, 'must not be empty');
  }
  if (address.length > MAX_NAME_LENGTH || controlChars.test(address) || /\s/.test(address)) {
    fail(field, `is not a valid address: ${JSON.stringify(address.slice(0, 64))}`);
  }
  if (['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0'].includes(address)) {
    fail(field, `must not be a wildcard address (${address}): nobody can connect to it`);
  }
  return address;
}

/** A list of strings (tags). */
export function validateTags(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) fail(field, `must be an array of strings, got ${typeName(value)}`);
  value.forEach((tag, i) => validateString(tag, `${field}[${i}]`));
  return value as string[];
}

/** A string map with Consul's limits on metadata keys and values. */
export function validateMeta(value: unknown, field: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(field, `must be an object of strings, got ${typeName(value)}`);
  }
  const entries = Object.entries(value);
  if (entries.length > MAX_META_PAIRS) {
    fail(field, `must not have more than ${MAX_META_PAIRS} key/value pairs`);
  }
  for (const [key, v] of entries) {
    if (key.length === 0) fail(field, 'key must not be blank');
    if (key.length > MAX_META_KEY_LENGTH) {
      fail(
        `${field}.${key.slice(0, 32)}`,
        `key is too long (limit: ${MAX_META_KEY_LENGTH} characters)`,
      );
    }
    if (!metaKeyFormat.test(key)) {
      fail(`${field}.${key}`, 'key may contain only letters, digits, "_" and "-"');
    }
    if (key.startsWith('consul-')) {
      fail(`${field}.${key}`, `key prefix "consul-" is reserved for internal use`);
    }
    validateString(v, `${field}.${key}`);
    if ((v as string).length > MAX_META_VALUE_LENGTH) {
      fail(`${field}.${key}`, `value is too long (limit: ${MAX_META_VALUE_LENGTH} characters)`);
    }
  }
  return value as Record<string, string>;
}

/** A plain string map without metadata's key rules (tagged addresses). */
export function validateStringMap(value: unknown, field: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(field, `must be an object of strings, got ${typeName(value)}`);
  }
  for (const [key, v] of Object.entries(value)) validateString(v, `${field}.${key}`);
  return value as Record<string, string>;
}

export function validateStatus(value: unknown, field: string): HealthStatus {
  if (!HEALTH_STATUSES.includes(value as HealthStatus)) {
    fail(field, `must be one of passing, warning or critical, got ${JSON.stringify(value)}`);
  }
  return value as HealthStatus;
}

export function validateProtocol(value: unknown, field: string): Protocol {
  if (!PROTOCOLS.includes(value as Protocol)) {
    fail(field, `must be one of tcp, http or grpc, got ${JSON.stringify(value)}`);
  }
  return value as Protocol;
}

/** A whole, non-negative number of milliseconds. */
export function validateDurationMs(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    fail(
      field,
      `must be a non-negative whole number of milliseconds, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function validateSource(value: unknown, field: string): Source {
  if (typeof value !== 'object' || value === null) fail(field, 'must be an object');
  const source = value as Partial<Source>;
  if (!SOURCE_KINDS.includes(source.kind as never)) {
    fail(`${field}.kind`, `must be one of ${SOURCE_KINDS.join(', ')}`);
  }
  validateName(source.owner, `${field}.owner`);
  return value as Source;
}

function validateWeights(value: Weights, field: string): void {
  for (const key of ['passing', 'warning'] as const) {
    const n = value[key];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
      fail(`${field}.${key}`, 'must be an integer from 0 to 65535');
    }
  }
  if (value.passing < 1) fail(`${field}.passing`, 'must be at least 1');
}

export function validateNode(node: CatalogNode, field = 'node'): CatalogNode {
  validateName(node.name, `${field}.name`);
  validateAddress(node.address, `${field}.address`);
  validateString(node.id, `${field}.id`);
  if (
    node.id !== '' &&
    !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(node.id)
  ) {
    fail(`${field}.id`, `must be a UUID, got ${JSON.stringify(node.id)}`);
  }
  validateString(node.zone, `${field}.zone`);
  validateStringMap(node.taggedAddresses, `${field}.taggedAddresses`);
  validateMeta(node.meta, `${field}.meta`);
  validateSource(node.source, `${field}.source`);
  return node;
}

export function validateInstance(instance: ServiceInstance, field = 'service'): ServiceInstance {
  validateName(instance.id, `${field}.id`);
  validateName(instance.service, `${field}.service`);
  validateName(instance.namespace, `${field}.namespace`);
  validateName(instance.node, `${field}.node`);
  validateString(instance.zone, `${field}.zone`);
  validateAddress(instance.address, `${field}.address`, { allowEmpty: true });
  validatePort(instance.port, `${field}.port`);
  validateProtocol(instance.protocol, `${field}.protocol`);
  if (instance.proxy.inbound !== undefined) {
    validatePort(instance.proxy.inbound, `${field}.proxy.inbound`);
  }
  if (instance.proxy.admin !== undefined)
    validatePort(instance.proxy.admin, `${field}.proxy.admin`);
  validateTags(instance.tags, `${field}.tags`);
  validateMeta(instance.meta, `${field}.meta`);
  validateWeights(instance.weights, `${field}.weights`);
  validateSource(instance.source, `${field}.source`);
  return instance;
}

/** The definition's own rules, as Consul's `CheckType.Validate` states them. */
export function validateCheckDefinition(def: CheckDefinition, field = 'definition'): void {
  for (const key of [
    'ttlMs',
    'intervalMs',
    'timeoutMs',
    'deregisterCriticalServiceAfterMs',
  ] as const) {
    if (def[key] !== undefined) validateDurationMs(def[key], `${field}.${key}`);
  }
  const intervalCheck = def.http !== undefined || def.tcp !== undefined;
  if ((def.intervalMs ?? 0) > 0 && (def.ttlMs ?? 0) > 0) {
    fail(field, 'must not have both an interval and a TTL');
  }
  if (def.http !== undefined && def.tcp !== undefined) {
    fail(field, 'must not be both an HTTP and a TCP check');
  }
  if (intervalCheck && !((def.intervalMs ?? 0) > 0)) {
    fail(`${field}.intervalMs`, 'must be > 0 for HTTP and TCP checks');
  }
  if (def.http !== undefined) {
    let url: URL;
    try {
      url = new URL(validateString(def.http, `${field}.http`));
    } catch {
      fail(`${field}.http`, `is not a URL: ${JSON.stringify(def.http)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      fail(`${field}.http`, `must be an http:// or https:// URL, got ${JSON.stringify(def.http)}`);
    }
  }
  if (def.tcp !== undefined && !/^.+:\d{1,5}$/.test(validateString(def.tcp, `${field}.tcp`))) {
    fail(`${field}.tcp`, `must be host:port, got ${JSON.stringify(def.tcp)}`);
  }
}

/** The check type a definition implies ("" for a check that only records a status). */
export function checkTypeOf(def: CheckDefinition): HealthCheck['type'] {
  if (def.http !== undefined) return 'http';
  if (def.tcp !== undefined) return 'tcp';
  if ((def.ttlMs ?? 0) > 0) return 'ttl';
  return '';
}

export function validateCheck(check: HealthCheck, field = 'check'): HealthCheck {
  validateName(check.node, `${field}.node`);
  validateName(check.checkId, `${field}.checkId`);
  validateName(check.name, `${field}.name`);
  validateStatus(check.status, `${field}.status`);
  validateString(check.notes, `${field}.notes`);
  validateString(check.output, `${field}.output`);
  if (check.serviceId !== '') validateName(check.serviceId, `${field}.serviceId`);
  validateString(check.serviceName, `${field}.serviceName`);
  validateCheckDefinition(check.definition, `${field}.definition`);
  if (check.monitored && checkTypeOf(check.definition) === '') {
    fail(`${field}.definition`, 'must be an HTTP, TCP or TTL check for the zone to run it');
  }
  validateSource(check.source, `${field}.source`);
  return check;
}

export function validateServiceDefinition(
  def: ServiceDefinition,
  field = 'service',
): ServiceDefinition {
  validateName(def.name, `${field}.name`);
  validateName(def.namespace, `${field}.namespace`);
  if (!Array.isArray(def.ports)) fail(`${field}.ports`, 'must be an array');
  const seen = new Set<number>();
  def.ports.forEach((p, i) => {
    const port = validatePort(p.port, `${field}.ports[${i}].port`);
    if (port === 0) fail(`${field}.ports[${i}].port`, 'must be from 1 to 65535');
    if (seen.has(port)) fail(`${field}.ports[${i}].port`, `repeats port ${port}`);
    seen.add(port);
    validateProtocol(p.protocol, `${field}.ports[${i}].protocol`);
    if (p.name !== undefined) validateName(p.name, `${field}.ports[${i}].name`);
  });
  validateTags(def.tags, `${field}.tags`);
  validateMeta(def.meta, `${field}.meta`);
  return def;
}

/**
 * A registration is consistent: its service and checks are on its node, service-level
 * checks name the service they belong to, and it fits in one store transaction.
 */
export function validateRegistration(reg: Registration): Registration {
  // With SkipNodeUpdate only the name matters, unless the node must be created (the writer
  // checks the whole node then).
  if (reg.skipNodeUpdate === true) {
    validateName(reg.node.name, 'node.name');
    validateSource(reg.node.source, 'node.source');
  } else {
    validateNode(reg.node, 'node');
  }
  const node = reg.node.name;
  if (reg.service !== undefined) {
    validateInstance(reg.service, 'service');
    if (reg.service.node !== node) {
      fail('service.node', `must be the registration's node "${node}"`);
    }
    if (!sameOwner(reg.service.source, reg.node.source)) {
      fail('service.source', "must be the registration's source: one registrar writes it all");
    }
  }
  const checks = reg.checks ?? [];
  if (checks.length > MAX_CHECKS_PER_REGISTRATION) {
    fail('checks', `must not have more than ${MAX_CHECKS_PER_REGISTRATION} checks`);
  }
  const ids = new Set<string>();
  checks.forEach((check, i) => {
    validateCheck(check, `checks[${i}]`);
    if (check.node !== node) {
      fail(`checks[${i}].node`, `"${check.node}" does not match the registration's node "${node}"`);
    }
    if (!sameOwner(check.source, reg.node.source)) {
      fail(`checks[${i}].source`, "must be the registration's source: one registrar writes it all");
    }
    if (ids.has(check.checkId)) fail(`checks[${i}].checkId`, `repeats "${check.checkId}"`);
    ids.add(check.checkId);
  });
  return reg;
}

function sameOwner(a: Source, b: Source): boolean {
  return a.kind === b.kind && a.owner === b.owner;
}

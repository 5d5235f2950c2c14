/**
 * `/v1/agent/service/register` bodies (`api.AgentServiceRegistration`) → an instance on the
 * zone's own node and the checks the zone will run for it.
 *
 * Rules and messages follow Consul's agent endpoint and `structs.CheckType.Validate`:
 * "Missing service name", "Invalid service address", "Status for checks must 'passing',
 * 'warning', 'critical'", "Invalid check: …". Check IDs default to `service:<id>` (with
 * `:<n>` when there are several), names to `Service '<name>' check`, status to critical.
 * Causeway runs HTTP, TCP and TTL checks; a registration asking for another kind (script,
 * gRPC, H2PING, UDP, Docker, alias, OS service) is refused rather than silently left
 * critical forever.
 */
import { InvalidArgumentError } from '../../../core/index.ts';
import { validateStatus } from '../../../core/src/catalog/validate.ts';
import { CONSUL_API_SOURCE, DEFAULT_NAMESPACE } from '../../../core/src/catalog/types.ts';
import type {
  CheckDefinition,
  HealthCheck,
  ServiceInstance,
} from '../../../core/src/catalog/types.ts';
import { decodeWeights, protocolOf, serviceAddress } from '../catalog/catalog-decode.ts';
import { ConsulObject } from '../catalog/consul-json.ts';

/** Check kinds Consul knows and Causeway does not run, by the field that asks for them. */
const UNSUPPORTED_CHECKS: readonly [string[], string][] = [
  [['Args', 'ScriptArgs', 'Script'], 'script'],
  [['DockerContainerID'], 'Docker'],
  [['GRPC'], 'gRPC'],
  [['H2PING'], 'H2PING'],
  [['UDP'], 'UDP'],
  [['AliasNode', 'AliasService'], 'alias'],
  [['OSService'], 'OS service'],
];

function invalidCheck(chk: ConsulObject, reason: string, field = chk.path): never {
  throw new InvalidArgumentError(`Invalid check: ${reason}`, field);
}

function decodeCheckDefinition(chk: ConsulObject): CheckDefinition {
  for (const [fields, kind] of UNSUPPORTED_CHECKS) {
    const asked = fields.find((f) => chk.has(f));
    if (asked !== undefined) {
      invalidCheck(
        chk,
        `${kind} checks are not supported by Causeway; use HTTP, TCP or TTL`,
        chk.field(asked),
      );
    }
  }
  const def: CheckDefinition = {};
  const http = chk.optionalString('HTTP');
  if (http) def.http = http;
  const tcp = chk.optionalString('TCP');
  if (tcp) def.tcp = tcp;
  const method = chk.optionalString('Method');
  if (method) def.method = method;
  const header = chk.header('Header');
  if (header) def.header = header;
  const body = chk.optionalString('Body');
  if (body) def.body = body;
  if (chk.has('TLSSkipVerify')) def.tlsSkipVerify = chk.boolean('TLSSkipVerify');
  const sni = chk.optionalString('TLSServerName');
  if (sni) def.tlsServerName = sni;
  if (chk.has('DisableRedirects')) def.disableRedirects = chk.boolean('DisableRedirects');
  const ttl = chk.duration('TTL');
  if (ttl) def.ttlMs = ttl;
  const interval = chk.duration('Interval');
  if (interval) def.intervalMs = interval;
  const timeout = chk.duration('Timeout');
  if (timeout) def.timeoutMs = timeout;
  const dcsa = chk.duration('DeregisterCriticalServiceAfter');
  if (dcsa) def.deregisterCriticalServiceAfterMs = dcsa;

  // The order of Consul's CheckType.Validate, with its messages.
  const intervalCheck = def.http !== undefined || def.tcp !== undefined;
  if (def.intervalMs !== undefined && def.ttlMs !== undefined) {
    invalidCheck(chk, 'Interval and TTL cannot both be specified');
  }
  if (intervalCheck && def.intervalMs === undefined) {
    invalidCheck(
      chk,
      'Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks',
      chk.field('Interval'),
    );
  }
  if (!intervalCheck && def.ttlMs === undefined) {
    invalidCheck(chk, 'TTL must be > 0 for TTL checks', chk.field('TTL'));
  }
  if (def.http !== undefined && def.tcp !== undefined) {
    invalidCheck(chk, 'HTTP and TCP cannot both be specified');
  }
  if (def.http !== undefined && !/^https?:\/\/[^/]/i.test(def.http)) {
    invalidCheck(
      chk,
      `HTTP must be an http:// or https:// URL, got ${JSON.stringify(def.http)}`,
      chk.field('HTTP'),
    );
  }
  if (def.tcp !== undefined && !/^.+:\d{1,5}$/.test(def.tcp)) {
    invalidCheck(chk, `TCP must be host:port, got ${JSON.stringify(def.tcp)}`, chk.field('TCP'));
  }
  return def;
}

function decodeAgentCheck(
  chk: ConsulObject,
  index: number,
  total: number,
  instance: ServiceInstance,
): HealthCheck {
  const status = chk.string('Status') || 'critical';
  if (!['passing', 'warning', 'critical'].includes(status)) {
    throw new InvalidArgumentError(
      "Status for checks must 'passing', 'warning', 'critical'",
      chk.field('Status'),
    );
  }
  const definition = decodeCheckDefinition(chk);
  const checkId =
    chk.string('CheckID', '', 'ID') || `service:${instance.id}${total > 1 ? `:${index + 1}` : ''}`;
  return {
    node: instance.node,
    checkId,
    name: chk.string('Name') || `Service '${instance.service}' check`,
    status: validateStatus(status, chk.field('Status')),
    notes: chk.string('Notes'),
    output: '',
    serviceId: instance.id,
    serviceName: instance.service,
    type: definition.ttlMs !== undefined ? 'ttl' : definition.http !== undefined ? 'http' : 'tcp',
    definition,
    monitored: true,
    source: CONSUL_API_SOURCE,
  };
}

export interface AgentServiceRegistration {
  instance: ServiceInstance;
  checks: HealthCheck[];
}

/** Decode a `/v1/agent/service/register` body for the zone's own node. */
export function decodeAgentServiceRegister(
  body: unknown,
  node: string,
  zone: string,
): AgentServiceRegistration {
  const obj = ConsulObject.body(body);
  const name = obj.string('Name', '', 'Service');
  if (name === '') throw new InvalidArgumentError('Missing service name', 'Name');
  const meta = obj.meta('Meta');
  const instance: ServiceInstance = {
    id: obj.string('ID') || name,
    service: name,
    namespace: obj.string('Namespace') || DEFAULT_NAMESPACE,
    node,
    zone,
    address: serviceAddress(obj),
    port: obj.port('Port'),
    protocol: protocolOf(meta),
    proxy: {},
    tags: obj.tags('Tags'),
    meta,
    weights: decodeWeights(obj),
    source: CONSUL_API_SOURCE,
  };
  const checkObjects = [...obj.objects('Checks')];
  const single = obj.object('Check');
  if (single !== undefined) checkObjects.unshift(single);
  const checks = checkObjects.map((c, i) => decodeAgentCheck(c, i, checkObjects.length, instance));
  return { instance, checks };
}

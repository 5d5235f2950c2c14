/**
 * Checks a proxy config snapshot, from the config stream or a bootstrap file, and fills in
 * the defaults for what it leaves out. A proxy NACKs a snapshot this refuses, with the
 * message, and keeps serving its last good one; so every check names the field, and
 * cross-references (routes → clusters, unique ports) are checked here too, not when the
 * proxy is half-way through applying it.
 */
import { isDnsLabel } from '../ca/spiffe.ts';
import { Fields } from '../decode/fields.ts';
import { InvalidArgumentError } from '../errors.ts';
import { HEALTH_STATUSES } from '../catalog/types.ts';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_OVERPROVISIONING_FACTOR,
  DEFAULT_PANIC_THRESHOLD_PERCENT,
  DEFAULT_ROUTE_TIMEOUT_MS,
  defaultLimits,
  defaultLoadBalancer,
  defaultOutlier,
  defaultRetryPolicy,
} from './defaults.ts';
import { LB_POLICIES, LISTENER_PROTOCOLS, RETRY_ON } from './types.ts';
import type {
  Authorization,
  AuthzRule,
  Cluster,
  Endpoint,
  Fault,
  HeaderMatch,
  HttpMatch,
  InboundConfig,
  LbPolicy,
  ListenerProtocol,
  OutboundListener,
  ProxyConfig,
  RetryOn,
  RetryPolicy,
  Route,
} from './types.ts';

// Room for `<service>.<namespace>~<subset>` with every part at its 63-character limit.
const CLUSTER_NAME = /^[a-z0-9]([a-z0-9~._-]{0,253}[a-z0-9])?$/;
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const METHOD = /^[A-Z]{1,20}$/;
const HOUR_MS = 3_600_000;

/** Check a snapshot and return it with defaults filled in. @throws InvalidArgumentError */
export function decodeProxyConfig(value: unknown): ProxyConfig {
  const f = new Fields(value, '');
  const clusters = f.list('clusters', 0, 10_000, (c) => decodeCluster(c));
  const clusterNames = new Set<string>();
  clusters.forEach((c, i) => {
    if (clusterNames.has(c.name)) {
      throw new InvalidArgumentError(`duplicate cluster name ${c.name}`, `clusters[${i}].name`);
    }
    clusterNames.add(c.name);
  });
  const inbound = decodeInbound(f.object('inbound'));
  const outbound = f.list('outbound', 0, 1024, (l) => decodeListener(l, clusterNames));
  const ports = new Map<number, string>([[inbound.port, 'inbound.port']]);
  outbound.forEach((l, i) => {
    const at = `outbound[${i}].port`;
    const other = ports.get(l.port);
    if (other !== undefined) {
      throw new InvalidArgumentError(`${at} ${l.port} is already used by ${other}`, at);
    }
    ports.set(l.port, at);
  });
  const names = new Set<string>();
  outbound.forEach((l, i) => {
    if (names.has(l.name)) {
      throw new InvalidArgumentError(`duplicate listener name ${l.name}`, `outbound[${i}].name`);
    }
    names.add(l.name);
  });
  return {
    service: f.label('service'),
    namespace: f.label('namespace', 'default'),
    zone: f.label('zone'),
    trustDomain: f.string('trustDomain', 253),
    inbound,
    outbound,
    clusters,
  };
}

function decodeInbound(f: Fields): InboundConfig {
  return {
    port: f.port('port'),
    protocol: f.oneOf('protocol', ['tcp', 'http'] as const, 'tcp'),
    authorization: decodeAuthorization(f.object('authorization', {})),
  };
}

function decodeAuthorization(f: Fields): Authorization {
  return {
    defaultAction: f.oneOf('defaultAction', ['allow', 'deny'] as const, 'allow'),
    rules: f.list('rules', 0, 10_000, (r) => decodeRule(r), []),
  };
}

function decodeRule(f: Fields): AuthzRule {
  const source = f.object('source', {});
  const rule: AuthzRule = {
    action: f.oneOf('action', ['allow', 'deny'] as const),
    source: {},
  };
  for (const part of ['service', 'namespace', 'zone'] as const) {
    const v = source.optionalString(part, 63);
    if (v !== undefined && v !== '*') {
      if (!isDnsLabel(v)) {
        throw new InvalidArgumentError(
          `${source.at(part)} must be a DNS label or *`,
          source.at(part),
        );
      }
      rule.source[part] = v;
    }
  }
  if (f.has('http')) rule.http = f.list('http', 1, 256, (m) => decodeHttpMatch(m));
  return rule;
}

function decodeHttpMatch(f: Fields): HttpMatch {
  const m: HttpMatch = {};
  const pathExact = f.optionalString('pathExact', 4096);
  const pathPrefix = f.optionalString('pathPrefix', 4096);
  if (pathExact !== undefined && pathPrefix !== undefined) {
    throw new InvalidArgumentError(
      `${f.at('pathExact')} and pathPrefix are exclusive`,
      f.at('pathExact'),
    );
  }
  for (const [key, v] of [
    ['pathExact', pathExact],
    ['pathPrefix', pathPrefix],
  ] as const) {
    if (v !== undefined) {
      if (!v.startsWith('/')) {
        throw new InvalidArgumentError(`${f.at(key)} must start with /`, f.at(key));
      }
      m[key] = v;
    }
  }
  if (f.has('methods')) {
    m.methods = f.values('methods', 1, 16, (raw, at) => {
      if (typeof raw !== 'string' || !METHOD.test(raw)) {
        throw new InvalidArgumentError(`${at} must be an upper-case HTTP method`, at);
      }
      return raw;
    });
  }
  if (f.has('headers')) m.headers = f.list('headers', 1, 64, (h) => decodeHeaderMatch(h));
  return m;
}

function decodeHeaderMatch(f: Fields): HeaderMatch {
  const name = f.string('name', 256).toLowerCase();
  if (!HEADER_NAME.test(name)) {
    throw new InvalidArgumentError(`${f.at('name')} is not a valid header name`, f.at('name'));
  }
  const h: HeaderMatch = { name };
  const exact = f.optionalString('exact', 8192, true);
  const prefix = f.optionalString('prefix', 8192, true);
  const present = f.optionalBoolean('present');
  const given = [exact, prefix, present].filter((v) => v !== undefined).length;
  if (given !== 1) {
    throw new InvalidArgumentError(
      `${f.at('name')}: give exactly one of exact, prefix, present`,
      f.at('name'),
    );
  }
  if (exact !== undefined) h.exact = exact;
  if (prefix !== undefined) h.prefix = prefix;
  if (present !== undefined) h.present = present;
  if (f.optionalBoolean('invert') === true) h.invert = true;
  return h;
}

function decodeListener(f: Fields, clusters: Set<string>): OutboundListener {
  const protocol: ListenerProtocol = f.oneOf('protocol', LISTENER_PROTOCOLS, 'tcp');
  const routes = f.list('routes', 1, 1024, (r) => decodeRoute(r, clusters));
  if (protocol === 'tcp') {
    const only = routes[0];
    if (routes.length !== 1 || only === undefined || Object.keys(only.match).length > 0) {
      throw new InvalidArgumentError(
        `${f.at('routes')}: a tcp listener takes exactly one route with an empty match`,
        f.at('routes'),
      );
    }
  }
  return { name: f.label('name'), port: f.port('port'), protocol, routes };
}

function decodeRoute(f: Fields, clusters: Set<string>): Route {
  const destinations = f.list('destinations', 1, 64, (d) => {
    const cluster = d.string('cluster', 255);
    if (!clusters.has(cluster)) {
      throw new InvalidArgumentError(
        `${d.at('cluster')} names unknown cluster ${cluster}`,
        d.at('cluster'),
      );
    }
    return { cluster, weight: d.integer('weight', 0, 1_000_000, 1) };
  });
  if (destinations.every((d) => d.weight === 0)) {
    throw new InvalidArgumentError(
      `${f.at('destinations')}: at least one weight must be positive`,
      f.at('destinations'),
    );
  }
  const route: Route = {
    match: decodeHttpMatch(f.object('match', {})),
    destinations,
    timeoutMs: f.integer('timeoutMs', 1, HOUR_MS, DEFAULT_ROUTE_TIMEOUT_MS),
    retry: decodeRetry(f.object('retry', {})),
  };
  if (f.has('fault')) route.fault = decodeFault(f.object('fault'));
  return route;
}

function decodeRetry(f: Fields): RetryPolicy {
  const d = defaultRetryPolicy();
  const retry: RetryPolicy = {
    numRetries: f.integer('numRetries', 0, 10, d.numRetries),
    retryOn: f.values(
      'retryOn',
      0,
      RETRY_ON.length,
      (raw, at) => {
        if (!RETRY_ON.includes(raw as RetryOn)) {
          throw new InvalidArgumentError(`${at} must be one of ${RETRY_ON.join(', ')}`, at);
        }
        return raw as RetryOn;
      },
      d.retryOn,
    ),
    retryOnStatusCodes: f.values(
      'retryOnStatusCodes',
      0,
      64,
      (raw, at) => {
        if (!Number.isInteger(raw) || (raw as number) < 100 || (raw as number) > 599) {
          throw new InvalidArgumentError(`${at} must be an HTTP status code`, at);
        }
        return raw as number;
      },
      d.retryOnStatusCodes,
    ),
    idempotentOnly: f.optionalBoolean('idempotentOnly') ?? d.idempotentOnly,
    baseIntervalMs: f.integer('baseIntervalMs', 1, 60_000, d.baseIntervalMs),
    maxIntervalMs: f.integer('maxIntervalMs', 1, 600_000, d.maxIntervalMs),
    budgetPercent: f.integer('budgetPercent', 0, 100, d.budgetPercent),
    minRetryConcurrency: f.integer('minRetryConcurrency', 0, 10_000, d.minRetryConcurrency),
  };
  if (retry.maxIntervalMs < retry.baseIntervalMs) {
    throw new InvalidArgumentError(
      `${f.at('maxIntervalMs')} must be at least baseIntervalMs`,
      f.at('maxIntervalMs'),
    );
  }
  return retry;
}

function decodeFault(f: Fields): Fault {
  const fault: Fault = {};
  if (f.has('delay')) {
    const d = f.object('delay');
    fault.delay = {
      percent: d.number('percent', 0, 100),
      durationMs: d.integer('durationMs', 0, HOUR_MS),
    };
  }
  if (f.has('abort')) {
    const a = f.object('abort');
    fault.abort = {
      percent: a.number('percent', 0, 100),
      httpStatus: a.integer('httpStatus', 200, 599),
    };
  }
  return fault;
}

function decodeCluster(f: Fields): Cluster {
  const name = f.string('name', 255);
  if (!CLUSTER_NAME.test(name)) {
    throw new InvalidArgumentError(
      `${f.at('name')} may hold lowercase letters, digits and ~ . _ - only`,
      f.at('name'),
    );
  }
  const lbFields = f.object('lb', {});
  const dl = defaultLoadBalancer();
  const policy: LbPolicy = lbFields.oneOf('policy', LB_POLICIES, dl.policy);
  const lb: Cluster['lb'] = { policy };
  if (policy === 'ring_hash') {
    const header = lbFields.string('hashHeader', 256).toLowerCase();
    if (!HEADER_NAME.test(header)) {
      throw new InvalidArgumentError(
        `${lbFields.at('hashHeader')} is not a valid header name`,
        lbFields.at('hashHeader'),
      );
    }
    lb.hashHeader = header;
  }
  if (policy === 'least_request') lb.choiceCount = lbFields.integer('choiceCount', 2, 100, 2);
  const limitsFields = f.object('limits', {});
  const dlim = defaultLimits();
  const outlierFields = f.object('outlier', {});
  const dout = defaultOutlier();
  return {
    name,
    service: f.label('service'),
    namespace: f.label('namespace', 'default'),
    lb,
    connectTimeoutMs: f.integer('connectTimeoutMs', 1, HOUR_MS, DEFAULT_CONNECT_TIMEOUT_MS),
    limits: {
      maxConnections: limitsFields.integer('maxConnections', 1, 1_000_000, dlim.maxConnections),
      maxPendingRequests: limitsFields.integer(
        'maxPendingRequests',
        0,
        1_000_000,
        dlim.maxPendingRequests,
      ),
      maxRequests: limitsFields.integer('maxRequests', 1, 1_000_000, dlim.maxRequests),
    },
    outlier: {
      consecutive5xx: outlierFields.integer('consecutive5xx', 0, 1000, dout.consecutive5xx),
      consecutiveConnectFailures: outlierFields.integer(
        'consecutiveConnectFailures',
        0,
        1000,
        dout.consecutiveConnectFailures,
      ),
      baseEjectionMs: outlierFields.integer('baseEjectionMs', 1, HOUR_MS, dout.baseEjectionMs),
      maxEjectionPercent: outlierFields.integer(
        'maxEjectionPercent',
        0,
        100,
        dout.maxEjectionPercent,
      ),
    },
    panicThresholdPercent: f.integer(
      'panicThresholdPercent',
      0,
      100,
      DEFAULT_PANIC_THRESHOLD_PERCENT,
    ),
    overprovisioningFactor: f.number(
      'overprovisioningFactor',
      1,
      10,
      DEFAULT_OVERPROVISIONING_FACTOR,
    ),
    endpoints: f.list('endpoints', 0, 100_000, (e) => decodeEndpoint(e), []),
  };
}

function decodeEndpoint(f: Fields): Endpoint {
  return {
    address: f.string('address', 255),
    port: f.port('port'),
    zone: f.label('zone'),
    priority: f.integer('priority', 0, 100, 0),
    health: f.oneOf('health', HEALTH_STATUSES, 'passing'),
    weight: f.integer('weight', 1, 1_000_000, 1),
    instanceId: f.string('instanceId', 256),
  };
}

/**
 * Proxy options: `ProxyOptions` (what flags and `CAUSEWAY_*` variables may set) →
 * `resolveProxyOptions()` → `ResolvedProxyOptions` (every field set, durations in ms).
 * Two modes: `stream` (the zone issues identity and config over the config stream) and
 * `bootstrap` (a file holds both, no control plane).
 */
import { hostname, networkInterfaces } from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  ConfigError,
  parseAddr,
  parseDuration,
  parseEnum,
  parseInteger,
  validateAddress,
  validateMeta,
  validateSpiffeSegment,
  validateTrustDomain,
} from '../../core/index.ts';
import type { HostPort } from '../../core/index.ts';
import { checkedListenerName, validateHelloTags } from '../../core/src/proxy-stream/messages.ts';

export interface ProxyOptions {
  /** A static bootstrap file (YAML or JSON); no control plane. See docs/proxy.md. */
  bootstrap?: string;
  /** The zone's config stream, `wss://host:port`. */
  zoneControl?: string;
  /** A file holding the dataplane token (re-read at every reconnect). */
  tokenFile?: string;
  /** The dataplane token itself (env `CAUSEWAY_TOKEN` only; prefer a file). */
  token?: string;
  /** The trust bundle (PEM) the zone's certificate must chain to. */
  caFile?: string;
  /** The SPIFFE trust domain. @default the root certificate's O in `caFile` */
  trustDomain?: string;
  /** Accept only this zone's control plane. @default any zone of the trust domain */
  zone?: string;
  service?: string;
  /** @default "default" */
  namespace?: string;
  /** The local app's port. */
  port?: number | string;
  /** @default "127.0.0.1" */
  appAddress?: string;
  /** @default "tcp" */
  appProtocol?: string;
  /**
   * `[<ns>/]<service>[@<zone>]:<port>`: an upstream and its local listener port;
   * `api@west:9002` reaches only zone west's instances of `api`.
   */
  upstream?: string[];
  /** The inbound mTLS listener's port; 0 picks a free one. @default 15006 */
  inboundPort?: number | string;
  /** @default "0.0.0.0" */
  inboundAddress?: string;
  /** The address peers dial, registered in the catalog. @default inboundAddress, or this host's first IPv4 */
  address?: string;
  /** @default "127.0.0.1:15000" (bootstrap mode: the file's `admin`, else this) */
  adminAddr?: string;
  /** @default "<service>-<host>-<random>" */
  instanceId?: string;
  /** @default the host name */
  node?: string;
  /** `key=value`, repeatable. */
  meta?: string[];
  tag?: string[];
  /** `http://127.0.0.1:8080/health`, `tcp` (connect to the app port) or `none`. @default "tcp" */
  healthCheck?: string;
  /** @default "10s" */
  healthInterval?: string | number;
  /** Processes sharing the listeners. @default 1 */
  workers?: number | string;
  /** One log line per inbound request or connection. @default true */
  accessLog?: boolean;
}

export interface ResolvedUpstream {
  service: string;
  namespace: string;
  localPort: number;
  /** Only this zone's instances (`@<zone>`); undefined: any zone, the local one first. */
  zone?: string;
}

export type HealthCheckSpec = { kind: 'none' } | { kind: 'tcp' } | { kind: 'http'; url: string };

interface CommonResolved {
  workers: number;
  accessLog: boolean;
  /** Undefined in bootstrap mode when neither the flag nor the file sets it. */
  adminAddr: HostPort | undefined;
  healthCheck: HealthCheckSpec;
  healthIntervalMs: number;
}

export interface ResolvedBootstrapOptions extends CommonResolved {
  mode: 'bootstrap';
  bootstrap: string;
}

export interface ResolvedStreamOptions extends CommonResolved {
  mode: 'stream';
  zoneControl: string;
  tokenFile: string | undefined;
  token: string | undefined;
  caFile: string;
  trustDomain: string | undefined;
  zone: string | undefined;
  service: string;
  namespace: string;
  app: HostPort;
  appProtocol: 'tcp' | 'http';
  upstreams: ResolvedUpstream[];
  inbound: HostPort;
  address: string;
  adminAddr: HostPort;
  instanceId: string;
  node: string;
  meta: Record<string, string>;
  tags: string[];
}

export type ResolvedProxyOptions = ResolvedBootstrapOptions | ResolvedStreamOptions;

export const DEFAULT_ADMIN_ADDR = '127.0.0.1:15000';
export const DEFAULT_INBOUND_PORT = 15006;

export function resolveProxyOptions(options: ProxyOptions): ResolvedProxyOptions {
  const common = {
    workers: parseInteger(options.workers ?? 1, 'workers', { min: 1, max: 64 }),
    accessLog: options.accessLog ?? true,
    healthCheck: parseHealthCheck(options.healthCheck ?? 'tcp'),
    healthIntervalMs: parseDuration(options.healthInterval ?? '10s', 'healthInterval'),
  };
  if (common.healthIntervalMs < 100) {
    throw new ConfigError('healthInterval must be at least 100ms', 'healthInterval');
  }
  if (options.bootstrap !== undefined) {
    if (options.zoneControl !== undefined) {
      throw new ConfigError(
        '--bootstrap runs without a control plane; drop --zone-control',
        'zoneControl',
      );
    }
    return {
      mode: 'bootstrap',
      bootstrap: options.bootstrap,
      ...common,
      adminAddr:
        options.adminAddr === undefined ? undefined : parseAddr(options.adminAddr, 'adminAddr'),
    };
  }
  const zoneControl = required(
    options.zoneControl,
    'zoneControl',
    '--zone-control wss://host:7701 (or --bootstrap FILE)',
  );
  let url: URL;
  try {
    url = new URL(zoneControl);
  } catch {
    throw new ConfigError(
      `zoneControl must be a URL like wss://127.0.0.1:7701 (got ${JSON.stringify(zoneControl)})`,
      'zoneControl',
    );
  }
  if (url.protocol !== 'wss:') {
    throw new ConfigError(
      'zoneControl must be a wss:// URL: the stream carries keys and is always TLS',
      'zoneControl',
    );
  }
  const service = label(required(options.service, 'service', '--service NAME'), 'service');
  const inbound = {
    host: options.inboundAddress ?? '0.0.0.0',
    port: parseInteger(options.inboundPort ?? DEFAULT_INBOUND_PORT, 'inboundPort', {
      min: 0,
      max: 65535,
    }),
  };
  const upstreams = (options.upstream ?? []).map((u, i) => parseUpstream(u, `upstream[${i}]`));
  const ports = new Set<number>();
  const listeners = new Map<string, number>();
  for (const [i, u] of upstreams.entries()) {
    if (ports.has(u.localPort) || u.localPort === inbound.port) {
      throw new ConfigError(`upstream[${i}]: port ${u.localPort} is used twice`, `upstream[${i}]`);
    }
    ports.add(u.localPort);
    // The zone's rule for hello upstreams: one listener per name, so one upstream per
    // service and zone (in any namespace). Refused here, it is a startup error rather than
    // a proxy the zone refuses at every reconnect.
    const listener = wrap(() => checkedListenerName(u, `upstream[${i}]`), `upstream[${i}]`);
    const other = listeners.get(listener);
    if (other !== undefined) {
      throw new ConfigError(
        `upstream[${i}]: ${u.service}${u.zone === undefined ? '' : `@${u.zone}`} is already ` +
          `upstream[${other}]; one upstream per service name and zone`,
        `upstream[${i}]`,
      );
    }
    listeners.set(listener, i);
  }
  const node = options.node ?? hostname();
  const trustDomain = options.trustDomain;
  if (trustDomain !== undefined)
    wrap(() => validateTrustDomain(trustDomain, 'trustDomain'), 'trustDomain');
  if (options.zone !== undefined) label(options.zone, 'zone');
  const instanceId =
    options.instanceId ?? `${service}-${node.split('.')[0]}-${randomBytes(3).toString('hex')}`;
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(instanceId)) {
    throw new ConfigError('instanceId may hold letters, digits and . _ : - only', 'instanceId');
  }
  if (options.tokenFile !== undefined && options.token !== undefined) {
    throw new ConfigError(
      'give the token as a file (--token-file) or CAUSEWAY_TOKEN, not both',
      'tokenFile',
    );
  }
  return {
    mode: 'stream',
    ...common,
    zoneControl,
    tokenFile: options.tokenFile,
    token: options.token,
    caFile: required(options.caFile, 'caFile', '--ca-file roots.pem (the zone CA bundle)'),
    trustDomain,
    zone: options.zone,
    service,
    namespace: label(options.namespace ?? 'default', 'namespace'),
    app: {
      host: options.appAddress ?? '127.0.0.1',
      port: parseInteger(required(options.port, 'port', '--port APP_PORT'), 'port', {
        min: 1,
        max: 65535,
      }),
    },
    appProtocol: parseEnum(options.appProtocol ?? 'tcp', 'appProtocol', ['tcp', 'http'] as const),
    upstreams,
    inbound,
    address: wrap(
      () => validateAddress(options.address ?? advertisedAddress(inbound.host), 'address'),
      'address',
    ),
    adminAddr: parseAddr(options.adminAddr ?? DEFAULT_ADMIN_ADDR, 'adminAddr'),
    instanceId,
    node,
    meta: parseMeta(options.meta ?? []),
    tags: wrap(() => validateHelloTags(options.tag ?? [], 'tag'), 'tag'),
  };
}

/** `backend:9001`, `payments/backend:9001`, `backend@west:9002`. */
export function parseUpstream(value: string, field: string): ResolvedUpstream {
  const match = /^(?:([^/:@]+)\/)?([^/:@]+)(?:@([^/:@]+))?:(\d{1,5})$/.exec(value.trim());
  if (!match) {
    throw new ConfigError(
      `${field} must look like backend:9001, namespace/backend:9001 or backend@zone:9001 (got ${JSON.stringify(value)})`,
      field,
    );
  }
  const [, namespace = 'default', service = '', zone, port = ''] = match;
  const upstream: ResolvedUpstream = {
    service: label(service, `${field}.service`),
    namespace: label(namespace, `${field}.namespace`),
    localPort: parseInteger(port, `${field}.port`, { min: 1, max: 65535 }),
  };
  if (zone !== undefined) upstream.zone = label(zone, `${field}.zone`);
  return upstream;
}

export function parseHealthCheck(value: string): HealthCheckSpec {
  if (value === 'none' || value === 'tcp') return { kind: value };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(
      `healthCheck must be none, tcp or an http:// URL (got ${JSON.stringify(value)})`,
      'healthCheck',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('healthCheck URL must be http:// or https://', 'healthCheck');
  }
  return { kind: 'http', url: url.toString() };
}

function parseMeta(entries: readonly string[]): Record<string, string> {
  const pairs = entries.map((entry, i): [string, string] => {
    const eq = entry.indexOf('=');
    if (eq < 1) {
      throw new ConfigError(
        `meta[${i}] must be key=value (got ${JSON.stringify(entry)})`,
        `meta[${i}]`,
      );
    }
    return [entry.slice(0, eq), entry.slice(eq + 1)];
  });
  // The catalog's rules (no "." in keys, no "consul-" prefix), which the zone applies to
  // the hello: refused here, a bad key is a startup error, not a proxy reconnecting forever.
  return wrap(() => validateMeta(Object.fromEntries(pairs), 'meta'), 'meta');
}

/** The address peers reach: the bind address if specific, else this host's first IPv4. */
function advertisedAddress(bind: string): string {
  if (bind !== '0.0.0.0' && bind !== '::') return bind;
  for (const list of Object.values(networkInterfaces())) {
    const v4 = list?.find((a) => a.family === 'IPv4' && !a.internal);
    if (v4) return v4.address;
  }
  return '127.0.0.1';
}

function required<T>(value: T | undefined, field: string, hint: string): T {
  if (value === undefined || value === '')
    throw new ConfigError(`${field} is required: ${hint}`, field);
  return value;
}

function label(value: string, field: string): string {
  return wrap(() => validateSpiffeSegment(value, field), field);
}

/**
 * Core validators throw InvalidArgumentError; options report ConfigError (exit code 2),
 * keeping the validator's field when it is more precise (`meta.app.version`).
 */
function wrap<T>(fn: () => T, field: string): T {
  try {
    return fn();
  } catch (err) {
    const inner = (err as { field?: unknown }).field;
    throw new ConfigError((err as Error).message, typeof inner === 'string' ? inner : field);
  }
}

/**
 * Zone control plane options: `ZoneOptions` (what flags, env and files may set) →
 * `resolveZoneOptions()` → `ResolvedZoneOptions` (every field set, durations in ms).
 */
import { ConfigError } from '../../core/index.ts';
import { parseAddr } from '../../core/index.ts';
import type { HostPort } from '../../core/index.ts';

export interface ZoneOptions {
  /** The zone's name: a DNS label (lower-case letters, digits, `-`), also the Consul datacenter. */
  name?: string;
  /** @default "127.0.0.1:8500" */
  httpAddr?: string;
  /** The proxy config stream's address (used by the proxy issue). @default "127.0.0.1:7701" */
  xdsAddr?: string;
  /** Store URL (see docs/store.md). @default embedded */
  store?: string;
  /** Where the embedded store persists; in memory when unset. */
  dataDir?: string;
  /** Local development: ACLs off. @default false */
  dev?: boolean;
  /** Largest request body the HTTP API reads, in bytes. @default 4 MiB (KV values: 512 KiB) */
  maxBodyBytes?: number;
  /**
   * The management token, when ACLs are on. Unset: one is generated at first start and
   * stored; read it with `causeway` tooling or from the first start's log line.
   */
  bootstrapToken?: string;
  /**
   * Without `bootstrapToken`: `"generate"` makes a management token at the first start and
   * logs its SecretID once; `"api"` waits for `PUT /v1/acl/bootstrap`, like a Consul server
   * without `initial_management`. @default "generate"
   */
  aclBootstrap?: 'generate' | 'api';
}

export interface ResolvedZoneOptions {
  name: string;
  httpAddr: HostPort;
  xdsAddr: HostPort;
  store: string | undefined;
  dataDir: string | undefined;
  dev: boolean;
  maxBodyBytes: number;
  bootstrapToken: string | undefined;
  aclBootstrap: 'generate' | 'api';
}

const zoneName = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function resolveZoneOptions(options: ZoneOptions): ResolvedZoneOptions {
  const name = options.name ?? (options.dev ? 'dev' : undefined);
  if (name === undefined) throw new ConfigError('a zone needs a name (--name)', 'name');
  if (!zoneName.test(name)) {
    throw new ConfigError(
      `zone name "${name}" must be a DNS label: lower-case letters, digits and "-", at most 63`,
      'name',
    );
  }
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1024) {
    throw new ConfigError('maxBodyBytes must be an integer of at least 1024', 'maxBodyBytes');
  }
  return {
    name,
    httpAddr: parseAddr(options.httpAddr ?? '127.0.0.1:8500', 'httpAddr', { allowPortZero: true }),
    xdsAddr: parseAddr(options.xdsAddr ?? '127.0.0.1:7701', 'xdsAddr', { allowPortZero: true }),
    store: options.store,
    dataDir: options.dataDir,
    dev: options.dev ?? false,
    maxBodyBytes,
    bootstrapToken: options.bootstrapToken,
    aclBootstrap: parseAclBootstrap(options.aclBootstrap ?? 'generate', 'aclBootstrap'),
  };
}

/** `"generate"` or `"api"`; anything else is a ConfigError naming `field`. */
export function parseAclBootstrap(value: unknown, field: string): 'generate' | 'api' {
  if (value === 'generate' || value === 'api') return value;
  throw new ConfigError(
    `${field} must be "generate" or "api"; got ${JSON.stringify(value)}`,
    field,
  );
}

/**
 * Zone control plane options: `ZoneOptions` (what flags, env and files may set) →
 * `resolveZoneOptions()` → `ResolvedZoneOptions` (every field set, durations in ms).
 */
import {
  ConfigError,
  parseDuration,
  parseEnum,
  parseInteger,
  validateTrustDomain,
} from '../../core/index.ts';
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
  /** The SPIFFE trust domain of this zone's identities. @default "causeway.mesh" */
  trustDomain?: string;
  /** Key type of generated CA keys and of leaves issued for Consul clients. @default "ec" */
  caKeyType?: 'ec' | 'rsa';
  /** A provided root CA (PEM certificate file), used at the CA's first start. */
  caCertFile?: string;
  /** The provided root's private key (PEM file). */
  caKeyFile?: string;
  /** Seals CA keys at rest: 32 bytes, base64 or hex. Env only (`CAUSEWAY_CA_ENCRYPTION_KEY`). */
  caEncryptionKey?: string;
  /** A file holding that key. */
  caEncryptionKeyFile?: string;
  /** Leaf lifetime: a duration ("24h") or ms. @default 24h */
  leafTtl?: string | number;
  /** CSR signings per second, zone-wide per process. @default 500 */
  caSignRate?: number | string;
  /** Bundle participants silent for this long stop holding a rotation. @default 15m */
  caParticipantTtl?: string | number;
  /**
   * A proxy whose config stream dropped without `leave` is deregistered after this long
   * (Consul's DeregisterCriticalServiceAfter). @default 1m
   */
  proxyDeregisterAfter?: string | number;
  /** TTL of a proxy's stream check; connected proxies renew it every third. @default 30s */
  proxyCheckTtl?: string | number;
  /** Quiet time after a catalog or config entry change before snapshots are rebuilt. @default 50ms */
  proxyConfigDebounce?: string | number;
  /** The global control plane's zone sync address (`wss://host:7601`): the zone is federated. */
  globalAddr?: string;
  /** The zone token (`causeway zone create`); env `CAUSEWAY_ZONE_TOKEN`. Needed until the zone joined. */
  zoneToken?: string;
  /** A file holding the zone token. */
  zoneTokenFile?: string;
  /** The global root (PEM file), to check global with instead of the token's pin. */
  globalCaFile?: string;
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
  trustDomain: string;
  caKeyType: 'ec' | 'rsa';
  caCertFile: string | undefined;
  caKeyFile: string | undefined;
  caEncryptionKey: string | undefined;
  caEncryptionKeyFile: string | undefined;
  leafTtlMs: number;
  caSignRate: number;
  caParticipantTtlMs: number;
  proxyDeregisterAfterMs: number;
  proxyCheckTtlMs: number;
  proxyConfigDebounceMs: number;
  globalAddr: string | undefined;
  zoneToken: string | undefined;
  zoneTokenFile: string | undefined;
  globalCaFile: string | undefined;
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
    ...resolveCaOptions(options),
    ...resolveProxyOptions(options),
    ...resolveFederationOptions(options),
  };
}

function resolveProxyOptions(options: ZoneOptions) {
  const proxyDeregisterAfterMs = parseDuration(
    options.proxyDeregisterAfter ?? '1m',
    'proxyDeregisterAfter',
  );
  if (proxyDeregisterAfterMs < 1) {
    throw new ConfigError('proxyDeregisterAfter must be positive', 'proxyDeregisterAfter');
  }
  const proxyCheckTtlMs = parseDuration(options.proxyCheckTtl ?? '30s', 'proxyCheckTtl');
  if (proxyCheckTtlMs < 300) {
    throw new ConfigError('proxyCheckTtl must be at least 300ms', 'proxyCheckTtl');
  }
  return {
    proxyDeregisterAfterMs,
    proxyCheckTtlMs,
    proxyConfigDebounceMs: parseDuration(
      options.proxyConfigDebounce ?? '50ms',
      'proxyConfigDebounce',
    ),
  };
}

function resolveFederationOptions(options: ZoneOptions) {
  const federated = options.globalAddr !== undefined;
  for (const field of ['zoneToken', 'zoneTokenFile', 'globalCaFile'] as const) {
    if (options[field] !== undefined && !federated) {
      throw new ConfigError(
        `${field} needs --global-addr (the global control plane to join)`,
        field,
      );
    }
  }
  if (options.zoneToken !== undefined && options.zoneTokenFile !== undefined) {
    throw new ConfigError(
      'give the zone token once: --zone-token-file or CAUSEWAY_ZONE_TOKEN',
      'zoneTokenFile',
    );
  }
  if (federated && (options.caCertFile !== undefined || options.caKeyFile !== undefined)) {
    throw new ConfigError(
      'a federated zone gets its CA from the global control plane: drop --ca-cert-file/--ca-key-file',
      'caCertFile',
    );
  }
  return {
    globalAddr: options.globalAddr,
    zoneToken: options.zoneToken?.trim(),
    zoneTokenFile: options.zoneTokenFile,
    globalCaFile: options.globalCaFile,
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

const MIN_LEAF_TTL_MS = 1000;

function resolveCaOptions(options: ZoneOptions) {
  let trustDomain: string;
  try {
    trustDomain = validateTrustDomain(options.trustDomain ?? 'causeway.mesh', 'trustDomain');
  } catch (err) {
    throw new ConfigError((err as Error).message, 'trustDomain');
  }
  if ((options.caCertFile === undefined) !== (options.caKeyFile === undefined)) {
    throw new ConfigError(
      'a provided CA needs both --ca-cert-file and --ca-key-file',
      options.caCertFile === undefined ? 'caCertFile' : 'caKeyFile',
    );
  }
  const leafTtlMs = parseDuration(options.leafTtl ?? '24h', 'leafTtl');
  if (leafTtlMs < MIN_LEAF_TTL_MS) {
    throw new ConfigError(`leafTtl must be at least 1s (got ${leafTtlMs} ms)`, 'leafTtl');
  }
  return {
    trustDomain,
    caKeyType: parseEnum(options.caKeyType ?? 'ec', 'caKeyType', ['ec', 'rsa'] as const),
    caCertFile: options.caCertFile,
    caKeyFile: options.caKeyFile,
    caEncryptionKey: options.caEncryptionKey,
    caEncryptionKeyFile: options.caEncryptionKeyFile,
    leafTtlMs,
    caSignRate: parseInteger(options.caSignRate ?? 500, 'caSignRate', { min: 1, max: 1_000_000 }),
    caParticipantTtlMs: parseDuration(options.caParticipantTtl ?? '15m', 'caParticipantTtl'),
  };
}

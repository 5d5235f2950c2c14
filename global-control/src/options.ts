/**
 * Global control plane options: `GlobalOptions` (what flags, env and files may set) →
 * `resolveGlobalOptions()` → `ResolvedGlobalOptions` (every field set, durations in ms).
 */
import {
  ConfigError,
  DEFAULT_GLOBAL_KV_PREFIXES,
  parseAddr,
  parseDuration,
  parseEnum,
  validateGlobalKvPrefixes,
  validateTrustDomain,
} from '../../core/index.ts';
import type { Duration, HostPort } from '../../core/index.ts';

export interface GlobalOptions {
  /** The HTTP API (zones, mesh-wide reads, CA). @default "127.0.0.1:7600" */
  httpAddr?: string;
  /** Where zones dial in for zone sync (WebSocket over TLS). @default "127.0.0.1:7601" */
  syncAddr?: string;
  /** Store URL (see docs/store.md). @default embedded */
  store?: string;
  /** Where the embedded store persists (and the generated admin token); in memory when unset. */
  dataDir?: string;
  /** Local development: the API asks for no admin token. @default false */
  dev?: boolean;
  /** The mesh's SPIFFE trust domain; every zone joins it. @default "causeway.mesh" */
  trustDomain?: string;
  /** The admin token itself. Env only (`CAUSEWAY_ADMIN_TOKEN`). */
  adminToken?: string;
  /** A file holding the admin token. Unset (and no `adminToken`): generated at first start. */
  adminTokenFile?: string;
  /** Key type of the generated root CA. @default "ec" */
  caKeyType?: 'ec' | 'rsa';
  /** Seals the root and token-signing keys at rest: 32 bytes, base64 or hex. Env only. */
  caEncryptionKey?: string;
  /** A file holding that key. */
  caEncryptionKeyFile?: string;
  /** Lifetime of zone tokens when a request names none. @default 24h */
  zoneTokenTtl?: Duration;
  /** Lifetime of the global's own certificate (renewed at about 80%). @default 24h */
  serverCertTtl?: Duration;
  /**
   * Lifetime of a zone intermediate (zones renew theirs with a third of it left).
   * @default 8760h (a year)
   */
  intermediateTtl?: Duration;
  /** Largest request body the HTTP API reads, in bytes. @default 64 KiB */
  maxBodyBytes?: number;
  /**
   * KV folders global owns and replicates read-only to every zone (each ends with `/`,
   * none inside another); every other key belongs to its zone. @default ["global/"]
   */
  kvGlobalPrefixes?: string[];
}

export interface ResolvedGlobalOptions {
  httpAddr: HostPort;
  syncAddr: HostPort;
  store: string | undefined;
  dataDir: string | undefined;
  dev: boolean;
  trustDomain: string;
  adminToken: string | undefined;
  adminTokenFile: string | undefined;
  caKeyType: 'ec' | 'rsa';
  caEncryptionKey: string | undefined;
  caEncryptionKeyFile: string | undefined;
  zoneTokenTtlMs: number;
  serverCertTtlMs: number;
  intermediateTtlMs: number;
  maxBodyBytes: number;
  kvGlobalPrefixes: string[];
}

/** Zone tokens live at least a minute and at most a year. */
export const MIN_ZONE_TOKEN_TTL_MS = 60_000;
export const MAX_ZONE_TOKEN_TTL_MS = 365 * 24 * 3_600_000;
const MIN_INTERMEDIATE_TTL_MS = 3 * 3_600_000;
const MAX_INTERMEDIATE_TTL_MS = 43_800 * 3_600_000;
const MIN_SERVER_CERT_TTL_MS = 10_000;

export function resolveGlobalOptions(options: GlobalOptions): ResolvedGlobalOptions {
  let trustDomain: string;
  try {
    trustDomain = validateTrustDomain(options.trustDomain ?? 'causeway.mesh', 'trustDomain');
  } catch (err) {
    throw new ConfigError((err as Error).message, 'trustDomain');
  }
  const zoneTokenTtlMs = parseDuration(options.zoneTokenTtl ?? '24h', 'zoneTokenTtl');
  if (zoneTokenTtlMs < MIN_ZONE_TOKEN_TTL_MS || zoneTokenTtlMs > MAX_ZONE_TOKEN_TTL_MS) {
    throw new ConfigError('zoneTokenTtl must be from 1m to 8760h (a year)', 'zoneTokenTtl');
  }
  const serverCertTtlMs = parseDuration(options.serverCertTtl ?? '24h', 'serverCertTtl');
  if (serverCertTtlMs < MIN_SERVER_CERT_TTL_MS) {
    throw new ConfigError('serverCertTtl must be at least 10s', 'serverCertTtl');
  }
  const intermediateTtlMs = parseDuration(options.intermediateTtl ?? '8760h', 'intermediateTtl');
  if (intermediateTtlMs < MIN_INTERMEDIATE_TTL_MS || intermediateTtlMs > MAX_INTERMEDIATE_TTL_MS) {
    // Zones check hourly whether to renew; the root lives ten years.
    throw new ConfigError('intermediateTtl must be from 3h to 43800h (5 years)', 'intermediateTtl');
  }
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1024) {
    throw new ConfigError('maxBodyBytes must be an integer of at least 1024', 'maxBodyBytes');
  }
  if (options.adminToken !== undefined && options.adminTokenFile !== undefined) {
    throw new ConfigError(
      'give the admin token once: CAUSEWAY_ADMIN_TOKEN or --admin-token-file, not both',
      'adminTokenFile',
    );
  }
  return {
    httpAddr: parseAddr(options.httpAddr ?? '127.0.0.1:7600', 'httpAddr', { allowPortZero: true }),
    syncAddr: parseAddr(options.syncAddr ?? '127.0.0.1:7601', 'syncAddr', { allowPortZero: true }),
    store: options.store,
    dataDir: options.dataDir,
    dev: options.dev ?? false,
    trustDomain,
    adminToken: options.adminToken,
    adminTokenFile: options.adminTokenFile,
    caKeyType: parseEnum(options.caKeyType ?? 'ec', 'caKeyType', ['ec', 'rsa'] as const),
    caEncryptionKey: options.caEncryptionKey,
    caEncryptionKeyFile: options.caEncryptionKeyFile,
    zoneTokenTtlMs,
    serverCertTtlMs,
    intermediateTtlMs,
    maxBodyBytes,
    kvGlobalPrefixes: kvGlobalPrefixes(options.kvGlobalPrefixes ?? DEFAULT_GLOBAL_KV_PREFIXES),
  };
}

/**
 * The global KV prefixes as a ConfigError-throwing check; `field` names where they came
 * from (`kvGlobalPrefixes`, `--kv-global-prefix`, `CAUSEWAY_KV_GLOBAL_PREFIXES`).
 */
export function kvGlobalPrefixes(value: readonly string[], field = 'kvGlobalPrefixes'): string[] {
  try {
    return validateGlobalKvPrefixes(value, field);
  } catch (err) {
    throw new ConfigError((err as Error).message, field);
  }
}

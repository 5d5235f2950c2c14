/**
 * Options of the Redis store, resolved once into a form with every field set and every
 * value checked, so the rest of the backend never re-validates or guesses defaults.
 */
import { ConfigError } from '../../errors.ts';
import type { RedisStoreLogger } from './redis-client.ts';
import { parseRedisUrl } from './redis-url.ts';
import type { RedisConnectionSpec } from './redis-url.ts';

export interface RedisStoreOptions {
  /**
   * `redis://[user:pass@]host:port[/db]`, `rediss://…` (TLS),
   * `redis-sentinel://[pass@]h1:p1,h2:p2/<master>[?db=N]` or `redis-cluster://h1:p1,h2:p2`.
   */
  url: string;
  /**
   * Key namespace, used as the Redis hash tag `{cw:<namespace>}`, so several meshes (or
   * test runs) can share one Redis. Letters, digits, `.`, `_`, `-`.
   * @default "causeway"
   */
  namespace?: string;
  /**
   * About how many change batches the log keeps for watchers resuming from an older index;
   * older resumes get a resync. Trimming uses `MAXLEN ~`, which drops whole stream nodes
   * (100 entries by default), so up to that many more may be kept. The log holds values
   * too, so its memory is roughly this many times the average batch size.
   * @default 10000
   */
  historyLimit?: number;
  /**
   * Replicas that must acknowledge each write (Redis `WAIT`) before it is reported as
   * done; if fewer do within `replicaTimeoutMs`, the write fails with
   * StoreUnavailableError. With 0, a failover can lose the last acknowledged writes.
   * @default 0
   */
  replicas?: number;
  /** How long a write waits for its replicas. @default 1000 */
  replicaTimeoutMs?: number;
  /** How long opening may take to reach Redis, and each later connect attempt. @default 5000 */
  connectTimeoutMs?: number;
  /** How long one command may take before it fails with StoreUnavailableError. @default 10000 */
  commandTimeoutMs?: number;
  logger?: RedisStoreLogger;
}

export interface ResolvedRedisStoreOptions {
  connection: RedisConnectionSpec;
  namespace: string;
  historyLimit: number;
  replicas: number;
  replicaTimeoutMs: number;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  logger: RedisStoreLogger | undefined;
}

const namespacePattern = /^[A-Za-z0-9._-]{1,64}$/;

/** Apply defaults and check every option. @throws ConfigError naming the option. */
export function resolveRedisStoreOptions(options: RedisStoreOptions): ResolvedRedisStoreOptions {
  const namespace = options.namespace ?? 'causeway';
  if (typeof namespace !== 'string' || !namespacePattern.test(namespace)) {
    throw new ConfigError(
      `namespace must be 1-64 letters, digits, ".", "_" or "-"; got ${JSON.stringify(namespace)}`,
      'namespace',
    );
  }
  return {
    connection: parseRedisUrl(options.url),
    namespace,
    historyLimit: integer(options.historyLimit, 10_000, 1, 'historyLimit'),
    replicas: integer(options.replicas, 0, 0, 'replicas'),
    replicaTimeoutMs: integer(options.replicaTimeoutMs, 1_000, 1, 'replicaTimeoutMs'),
    connectTimeoutMs: integer(options.connectTimeoutMs, 5_000, 1, 'connectTimeoutMs'),
    commandTimeoutMs: integer(options.commandTimeoutMs, 10_000, 1, 'commandTimeoutMs'),
    logger: options.logger,
  };
}

function integer(value: number | undefined, fallback: number, min: number, field: string): number {
  const n = value ?? fallback;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new ConfigError(
      `${field} must be an integer of at least ${min}; got ${String(n)}`,
      field,
    );
  }
  return n;
}

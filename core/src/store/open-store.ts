/**
 * Pick and open a store backend from a URL, the way every process's `--store` flag does.
 *
 * - unset, `embedded` or `embedded:` → the embedded store, persisted to `dataDir` when given
 *   (otherwise in memory only);
 * - `memory` → the embedded store, never persisted, even with a data dir;
 * - `redis://`, `rediss://`, `redis-sentinel://`, `redis-cluster://` → the Redis store.
 */
import { ConfigError } from '../errors.ts';
import { openEmbeddedStore } from './embedded/embedded-store.ts';
import { openRedisStore } from './redis/redis-store.ts';
import type { Store } from './types.ts';

/** The subset of a pino logger the stores use. */
export interface StoreLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface OpenStoreOptions {
  /** Where the embedded store keeps its snapshot and log. */
  dataDir?: string;
  /** Redis key namespace (the hash tag), so several meshes can share one Redis. */
  namespace?: string;
  logger?: StoreLogger;
}

const redisSchemes = ['redis:', 'rediss:', 'redis-sentinel:', 'redis-cluster:'];

export async function openStore(
  url: string | undefined,
  options: OpenStoreOptions = {},
): Promise<Store> {
  const spec = url?.trim() ?? '';
  if (spec === '' || spec === 'embedded' || spec === 'embedded:') {
    return openEmbeddedStore({ dataDir: options.dataDir, logger: options.logger });
  }
  if (spec === 'memory' || spec === 'memory:') {
    return openEmbeddedStore({ logger: options.logger });
  }
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(spec)?.[0].toLowerCase();
  if (scheme !== undefined && redisSchemes.includes(scheme)) {
    return openRedisStore({ url: spec, namespace: options.namespace, logger: options.logger });
  }
  throw new ConfigError(
    `unsupported store "${scheme ?? spec}": use embedded, memory, redis://, rediss://, ` +
      'redis-sentinel:// or redis-cluster://',
    'store',
  );
}

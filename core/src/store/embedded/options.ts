/**
 * Options of the embedded store, and their resolution into a fully specified form
 * (`EmbeddedStoreOptions` → `resolveEmbeddedStoreOptions()` → `ResolvedEmbeddedStoreOptions`)
 * so the store itself never deals with a missing value.
 */
import { ConfigError } from '../../errors.ts';
import { DEFAULT_MAX_BUFFERED } from '../watch-channel.ts';
import { DEFAULT_HISTORY_LIMIT } from './change-history.ts';

/** The subset of a pino logger the embedded store uses. */
export interface EmbeddedStoreLogger {
  warn(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
}

export interface EmbeddedStoreOptions {
  /**
   * Directory for the snapshot and the append-only log. Created if missing. Without it the
   * store lives in memory only and starts empty every time.
   */
  dataDir?: string;
  /**
   * fdatasync the log before acknowledging a write (and fsync snapshots and the directory).
   * Turning it off survives a process crash but not a power loss or kernel crash.
   * @default true
   */
  fsync?: boolean;
  /**
   * Committed batches kept in memory for watches resuming from an older index; a watch
   * from before the oldest one is told to resync. History starts afresh at every open.
   * @default 10000
   */
  historyLimit?: number;
  /**
   * Log size past which the store writes a snapshot and starts a new log segment.
   * @default 67108864 (64 MiB)
   */
  compactAfterBytes?: number;
  /**
   * Undelivered events a watcher may accumulate before it is told to resync.
   * @default 10000
   */
  maxWatchBuffered?: number;
  /** Where recovery repairs and compactions are reported. @default a logger that drops everything */
  logger?: EmbeddedStoreLogger;
}

export interface ResolvedEmbeddedStoreOptions {
  dataDir: string | undefined;
  fsync: boolean;
  historyLimit: number;
  compactAfterBytes: number;
  maxWatchBuffered: number;
  logger: EmbeddedStoreLogger;
}

export const DEFAULT_COMPACT_AFTER_BYTES = 64 * 1024 * 1024;

const silentLogger: EmbeddedStoreLogger = { warn: () => undefined };

function positiveInt(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ConfigError(`${field} must be a positive integer`, field);
  }
  return value;
}

/** Fill in defaults and reject impossible values with a {@link ConfigError}. */
export function resolveEmbeddedStoreOptions(
  options: EmbeddedStoreOptions = {},
): ResolvedEmbeddedStoreOptions {
  const { dataDir, fsync } = options;
  if (dataDir !== undefined && (typeof dataDir !== 'string' || dataDir.length === 0)) {
    throw new ConfigError('dataDir must be a non-empty path', 'dataDir');
  }
  if (fsync !== undefined && typeof fsync !== 'boolean') {
    throw new ConfigError('fsync must be true or false', 'fsync');
  }
  return {
    dataDir,
    fsync: fsync ?? true,
    historyLimit: positiveInt(options.historyLimit, 'historyLimit', DEFAULT_HISTORY_LIMIT),
    compactAfterBytes: positiveInt(
      options.compactAfterBytes,
      'compactAfterBytes',
      DEFAULT_COMPACT_AFTER_BYTES,
    ),
    maxWatchBuffered: positiveInt(
      options.maxWatchBuffered,
      'maxWatchBuffered',
      DEFAULT_MAX_BUFFERED,
    ),
    logger: options.logger ?? silentLogger,
  };
}

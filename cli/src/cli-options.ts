/**
 * The options shared by CLI commands, resolved with the usual pipeline: flags > `CAUSEWAY_*`
 * environment > defaults (the CLI reads no config file).
 */
import { resolve } from 'node:path';
import { parseLogLevel } from '../../core/src/logging.ts';
import type { LogLevel } from '../../core/src/logging.ts';
import { parseDuration } from '../../core/src/options/duration.ts';
import type { Duration } from '../../core/src/options/duration.ts';
import { readEnvOptions } from '../../core/src/options/env.ts';
import type { Env } from '../../core/src/options/env.ts';
import { mergeOptions } from '../../core/src/options/merge.ts';

/** Flags as commander parses them; every one may be absent. */
export interface CliFlags {
  /** @default "info" for `run`, "warn" for commands that print data */
  logLevel?: string;
  /** Store URL: `embedded:`, `memory`, `redis://…`. @default embedded */
  store?: string;
  /** The embedded store's directory. @default "./data" */
  dataDir?: string;
  /** How long each component may take to stop. @default "10s" */
  drainTimeout?: Duration;
}

export interface ResolvedStoreCliOptions {
  logLevel: LogLevel;
  /** `undefined` means the embedded store. */
  store: string | undefined;
  /** Absolute, so messages and `store info` show exactly which directory is used. */
  dataDir: string;
}

export interface ResolvedRunCliOptions {
  logLevel: LogLevel;
  drainTimeoutMs: number;
}

/** How each flag's variable is read: `--data-dir` ↔ `CAUSEWAY_DATA_DIR`. */
export const cliEnvSpec = {
  logLevel: parseLogLevel,
  store: 'string',
  dataDir: 'string',
  drainTimeout: 'duration',
} as const;

/** Help text naming the variable behind a flag. */
export const envHint = {
  logLevel: 'env CAUSEWAY_LOG_LEVEL',
  store: 'env CAUSEWAY_STORE',
  dataDir: 'env CAUSEWAY_DATA_DIR',
  drainTimeout: 'env CAUSEWAY_DRAIN_TIMEOUT',
} as const;

function layered(flags: CliFlags, env: Env, defaults: CliFlags): CliFlags {
  return mergeOptions<CliFlags>({ defaults, env: readEnvOptions(env, cliEnvSpec), flags });
}

/** Options of the `store` verbs. */
export function resolveStoreCliOptions(
  flags: CliFlags,
  env: Env,
  cwd = process.cwd(),
): ResolvedStoreCliOptions {
  const merged = layered(flags, env, { logLevel: 'warn', dataDir: './data' });
  const store = merged.store?.trim();
  return {
    logLevel: parseLogLevel(merged.logLevel, '--log-level'),
    store: store === '' ? undefined : store,
    dataDir: resolve(cwd, merged.dataDir ?? './data'),
  };
}

/** Options of `causeway run`. */
export function resolveRunCliOptions(flags: CliFlags, env: Env): ResolvedRunCliOptions {
  const merged = layered(flags, env, { logLevel: 'info', drainTimeout: '10s' });
  return {
    logLevel: parseLogLevel(merged.logLevel, '--log-level'),
    drainTimeoutMs: parseDuration(merged.drainTimeout, '--drain-timeout'),
  };
}

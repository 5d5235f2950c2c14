/**
 * Structured logging for every Causeway process: pino JSON lines, one child logger per
 * component (Kuma names its loggers `kds-zone`; we bind `component: "kds-zone"`), and
 * secrets redacted before a line is written.
 */
import { createRequire } from 'node:module';
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { ConfigError } from './errors.ts';
import { REDACTED } from './options/redact.ts';

export type { Logger } from 'pino';

/** Levels in increasing severity; `silent` turns logging off. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  /**
   * Minimum level written; from `--log-level` or `CAUSEWAY_LOG_LEVEL`.
   * @default "info"
   */
  level?: string;
  /**
   * The process name written on every line (`"causeway"`, `"zone-control"`).
   * @default "causeway"
   */
  name?: string;
  /**
   * Human-readable output through `pino-pretty` when it is installed; otherwise JSON and
   * one warning saying so. Ignored when `destination` is a stream.
   * @default false
   */
  pretty?: boolean;
  /**
   * Where lines go: a file descriptor or a stream (tests pass a stream to read lines back).
   * @default 1 (stdout)
   */
  destination?: number | DestinationStream;
  /**
   * Extra pino redact paths (fast-redact syntax, `"req.body.csr"`), added to
   * {@link DEFAULT_REDACT_PATHS}.
   * @default []
   */
  redactPaths?: readonly string[];
}

export interface ResolvedLoggerOptions {
  level: LogLevel;
  name: string;
  pretty: boolean;
  destination: number | DestinationStream;
  redactPaths: readonly string[];
}

const secretFields = ['token', 'password', 'secret', 'authorization', 'apiKey', 'privateKey'];
const secretHeaders = ['authorization', 'cookie', '"x-consul-token"', '"x-causeway-token"'];

/**
 * Fields pino blanks out in every log record: secret-named fields up to two levels deep
 * and credential headers of logged requests. Paths are fixed (fast-redact compiles them
 * once), so values logged under other names are not caught: pass option trees through
 * `redact()` from `options/` before logging them.
 */
export const DEFAULT_REDACT_PATHS: readonly string[] = [
  ...secretFields.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]),
  ...secretHeaders.flatMap((h) => [`headers[${h}]`, `*.headers[${h}]`]),
];

/** Check a level name, naming `field` (`"--log-level"`, `"CAUSEWAY_LOG_LEVEL"`) on error. */
export function parseLogLevel(value: unknown, field = 'logLevel'): LogLevel {
  const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  const level = LOG_LEVELS.find((l) => l === text);
  if (level === undefined) {
    throw new ConfigError(
      `${field} must be one of ${LOG_LEVELS.join(', ')}; got ${JSON.stringify(value)}`,
      field,
    );
  }
  return level;
}

/** Fill in defaults and validate {@link LoggerOptions}. */
export function resolveLoggerOptions(options: LoggerOptions = {}): ResolvedLoggerOptions {
  return {
    level: parseLogLevel(options.level ?? 'info', 'level'),
    name: options.name ?? 'causeway',
    pretty: options.pretty ?? false,
    destination: options.destination ?? 1,
    redactPaths: [...DEFAULT_REDACT_PATHS, ...(options.redactPaths ?? [])],
  };
}

/**
 * Create a process's root logger. Lines are JSON with an ISO `time` and a string `level`
 * (`"level":"info"`), which log collectors index without a mapping table.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const resolved = resolveLoggerOptions(options);
  const wantPretty = resolved.pretty && typeof resolved.destination === 'number';
  const prettyAvailable = wantPretty && hasPinoPretty();
  const logger = pino(
    {
      name: resolved.name,
      level: resolved.level,
      redact: { paths: [...resolved.redactPaths], censor: REDACTED },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // pino-pretty runs in a worker thread (a transport); it only exists when requested.
      ...(prettyAvailable
        ? {
            transport: {
              target: 'pino-pretty',
              options: { destination: resolved.destination, ignore: 'pid,hostname' },
            },
          }
        : {}),
    },
    prettyAvailable ? undefined : toStream(resolved.destination),
  );
  if (wantPretty && !prettyAvailable) {
    logger.warn('pino-pretty is not installed; writing JSON log lines');
  }
  return logger;
}

function toStream(destination: number | DestinationStream): DestinationStream {
  // Synchronous writes for file descriptors: control-plane log volume is small, and lines
  // written just before `process.exit()` (a failed drain) must not be lost.
  return typeof destination === 'number'
    ? pino.destination({ dest: destination, sync: true })
    : destination;
}

function hasPinoPretty(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

// child → the logger it was derived from that carries no `component` binding, so nested
// children can be rebuilt from it instead of writing `component` twice on every line.
const bases = new WeakMap<Logger, Logger>();

/**
 * A logger for one component, binding `component` on every line. Nesting joins names the
 * way Kuma does: `childLogger(childLogger(root, 'kds'), 'zone')` logs `component: "kds-zone"`.
 * Other bindings and the level of `parent` carry over.
 */
export function childLogger(parent: Logger, component: string): Logger {
  const { component: parentComponent, ...parentBindings } = parent.bindings();
  const base = findBase(parent);
  let child: Logger;
  if (base === undefined || typeof parentComponent !== 'string') {
    child = parent.child({ component });
    bases.set(child, parent);
  } else {
    // Rebuild from the base, minus what it already writes itself (such as `name`).
    const baseBindings = base.bindings();
    const extra = Object.fromEntries(
      Object.entries(parentBindings).filter(([k]) => !(k in baseBindings)),
    );
    child = base.child({ ...extra, component: `${parentComponent}-${component}` });
    child.level = parent.level;
    bases.set(child, base);
  }
  return child;
}

function findBase(logger: Logger): Logger | undefined {
  // pino builds a child with Object.create(parent), so a plain `.child({ backend })` of one
  // of our loggers still finds its base through the prototype chain.
  for (let l: unknown = logger; l !== null && typeof l === 'object'; l = Object.getPrototypeOf(l)) {
    const base = bases.get(l as Logger);
    if (base !== undefined) return base;
  }
  return undefined;
}

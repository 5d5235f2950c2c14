/**
 * `CAUSEWAY_*` environment variables as an options layer.
 *
 * The environment is passed in rather than read here: only `main.ts` files touch
 * `process.env`, so every resolver can be tested with a plain object.
 */
import { parseAddr } from './address.ts';
import { parseDuration } from './duration.ts';
import { parseBoolean, parseInteger, parseList } from './scalars.ts';

/** An environment, e.g. `process.env`. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * How to read one variable: a built-in kind, or a parser for anything else (an enum).
 * `duration` yields milliseconds; `addr` is validated but kept as the `host:port` string
 * the option takes.
 */
export type EnvKind =
  | 'string'
  | 'integer'
  | 'boolean'
  | 'duration'
  | 'addr'
  | 'list'
  | ((text: string, field: string) => unknown);

/** Option name (camelCase) → how to read its variable. */
export type EnvSpec = Readonly<Record<string, EnvKind>>;

type EnvValue<K> = K extends 'string' | 'addr'
  ? string
  : K extends 'integer' | 'duration'
    ? number
    : K extends 'boolean'
      ? boolean
      : K extends 'list'
        ? string[]
        : K extends (text: string, field: string) => infer T
          ? T
          : never;

/** The options found in the environment; variables that are unset or empty are absent. */
export type EnvOptions<S extends EnvSpec> = { -readonly [K in keyof S]?: EnvValue<S[K]> };

/** The prefix every Causeway variable carries. */
export const ENV_PREFIX = 'CAUSEWAY_';

/**
 * The variable for an option: `httpAddr` → `CAUSEWAY_HTTP_ADDR`, `tlsCAFile` →
 * `CAUSEWAY_TLS_CA_FILE`.
 */
export function envName(option: string, prefix = ENV_PREFIX): string {
  const snake = option
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
    .toUpperCase();
  return prefix + snake;
}

/**
 * Read the options named in `spec` from `env`, parsing each by its kind.
 *
 * An empty variable counts as unset, so `CAUSEWAY_STORE=` in a compose file falls back to
 * the file or the default instead of failing.
 *
 * @example
 * readEnvOptions(process.env, { httpAddr: 'addr', drainTimeout: 'duration' })
 * // CAUSEWAY_HTTP_ADDR=127.0.0.1:8500 CAUSEWAY_DRAIN_TIMEOUT=5s
 * // → { httpAddr: '127.0.0.1:8500', drainTimeout: 5000 }
 * @throws ConfigError naming the variable (`CAUSEWAY_DRAIN_TIMEOUT`) when a value is invalid.
 */
export function readEnvOptions<const S extends EnvSpec>(
  env: Env,
  spec: S,
  prefix = ENV_PREFIX,
): EnvOptions<S> {
  const out: Record<string, unknown> = {};
  for (const [option, kind] of Object.entries(spec)) {
    const name = envName(option, prefix);
    const text = env[name];
    if (text === undefined || text.trim() === '') continue;
    out[option] = parseEnvValue(text, name, kind);
  }
  return out as EnvOptions<S>;
}

function parseEnvValue(text: string, name: string, kind: EnvKind): unknown {
  switch (kind) {
    case 'string':
      return text;
    case 'integer':
      return parseInteger(text, name, { min: Number.MIN_SAFE_INTEGER });
    case 'boolean':
      return parseBoolean(text, name);
    case 'duration':
      return parseDuration(text, name);
    case 'addr':
      parseAddr(text, name);
      return text.trim();
    case 'list':
      return parseList(text, name);
    default:
      return kind(text, name);
  }
}

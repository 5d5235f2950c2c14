/**
 * The options pipeline every component follows (Temporal's `WorkerOptions` →
 * `compileWorkerOptions()` habit): a component declares `XOptions` (optional fields with
 * `@default` TSDoc, durations as {@link Duration}), layers sources with
 * {@link mergeOptions} (flags > {@link readEnvOptions} > file > defaults), and compiles the
 * result with its own `resolveXOptions()` into `ResolvedXOptions` (every field required,
 * durations as `…Ms` numbers), using the parsers here so errors name the field. Resolved
 * options pass through {@link redact} before they are logged.
 */
export { formatAddr, parseAddr } from './address.ts';
export type { HostPort, ParseAddrOptions } from './address.ts';
export { formatDuration, parseDuration } from './duration.ts';
export type { Duration } from './duration.ts';
export { ENV_PREFIX, envName, readEnvOptions } from './env.ts';
export type { Env, EnvKind, EnvOptions, EnvSpec } from './env.ts';
export { isPlainObject, mergeOptions } from './merge.ts';
export type { OptionLayer, OptionLayers } from './merge.ts';
export { isSecretKey, REDACTED, redact, redactUrlSecrets } from './redact.ts';
export { parseBoolean, parseEnum, parseInteger, parseList } from './scalars.ts';
export type { IntegerRange } from './scalars.ts';
export { readConfigFile } from './config-file.ts';
export type { ConfigFile } from './config-file.ts';

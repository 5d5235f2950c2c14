/**
 * `causeway run global` flags and `CAUSEWAY_*` variables → `GlobalOptions`. Flags win over
 * the environment, which wins over defaults.
 */
import { Command } from 'commander';
import {
  ConfigError,
  mergeOptions,
  parseEnum,
  parseList,
  readEnvOptions,
} from '../../core/index.ts';
import type { Env } from '../../core/index.ts';
import { kvGlobalPrefixes } from './options.ts';
import type { GlobalOptions } from './options.ts';

const collect = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  value,
];

const envSpec = {
  httpAddr: 'addr',
  syncAddr: 'addr',
  store: 'string',
  dataDir: 'string',
  dev: 'boolean',
  trustDomain: 'string',
  adminToken: 'string',
  adminTokenFile: 'string',
  caKeyType: (value: unknown, field: string) => parseEnum(value, field, ['ec', 'rsa'] as const),
  caEncryptionKey: 'string',
  caEncryptionKeyFile: 'string',
  zoneTokenTtl: 'duration',
  serverCertTtl: 'duration',
  intermediateTtl: 'duration',
  // Comma-separated; checked here so the error names the variable.
  kvGlobalPrefixes: (value: unknown, field: string) =>
    kvGlobalPrefixes(parseList(value, field), field),
} as const;

export function parseGlobalFlags(args: readonly string[], env: Env): GlobalOptions {
  const cmd = new Command('causeway run global')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined })
    .option('--http-addr <addr>', 'HTTP API address (default 127.0.0.1:7600)')
    .option('--sync-addr <addr>', 'zone sync address, zones dial it (default 127.0.0.1:7601)')
    .option('--store <url>', 'store URL: embedded (default), memory, redis://…')
    .option('--data-dir <dir>', 'where the embedded store persists')
    .option('--dev', 'local development: the API needs no admin token')
    .option('--trust-domain <domain>', 'SPIFFE trust domain of the mesh (default causeway.mesh)')
    .option(
      '--admin-token-file <file>',
      'file holding the admin token (or env CAUSEWAY_ADMIN_TOKEN); default: generated at first start',
    )
    .option('--ca-key-type <type>', 'generated root CA key: ec (P-256, default) or rsa (2048)')
    .option(
      '--ca-encryption-key-file <file>',
      'key sealing CA keys at rest (32 bytes base64/hex; or env CAUSEWAY_CA_ENCRYPTION_KEY)',
    )
    .option(
      '--zone-token-ttl <duration>',
      'zone token lifetime when none is asked for (default 24h)',
    )
    .option(
      '--server-cert-ttl <duration>',
      "lifetime of the global's own certificate, renewed at ~80% (default 24h)",
    )
    .option(
      '--intermediate-ttl <duration>',
      'lifetime of a zone intermediate; zones renew with a third left (default 8760h)',
    )
    .option(
      '--kv-global-prefix <prefix>',
      'a KV folder (ending in /) global owns and replicates to every zone (repeatable; default global/)',
      collect,
    );
  try {
    cmd.parse([...args], { from: 'user' });
  } catch (err) {
    throw new ConfigError(`causeway run global: ${(err as Error).message.replace(/^error: /, '')}`);
  }
  // commander names the repeatable flag after its singular spelling.
  const { kvGlobalPrefix, ...flags } = cmd.opts<GlobalOptions & { kvGlobalPrefix?: string[] }>();
  // Checked as a list (prefixes must not overlap), so the error names the flag.
  if (kvGlobalPrefix !== undefined) {
    flags.kvGlobalPrefixes = kvGlobalPrefixes(kvGlobalPrefix, '--kv-global-prefix');
  }
  return mergeOptions<GlobalOptions>({ env: readEnvOptions(env, envSpec), flags });
}

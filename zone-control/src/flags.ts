/**
 * `causeway run zone` flags and `CAUSEWAY_*` variables → `ZoneOptions`. Flags win over the
 * environment, which wins over defaults.
 */
import { Command } from 'commander';
import { ConfigError, mergeOptions, readEnvOptions } from '../../core/index.ts';
import type { Env } from '../../core/index.ts';
import { parseAclBootstrap } from './options.ts';
import type { ZoneOptions } from './options.ts';

const envSpec = {
  name: 'string',
  httpAddr: 'addr',
  xdsAddr: 'addr',
  store: 'string',
  dataDir: 'string',
  dev: 'boolean',
  bootstrapToken: 'string',
  aclBootstrap: parseAclBootstrap,
} as const;

export function parseZoneFlags(args: readonly string[], env: Env): ZoneOptions {
  const cmd = new Command('causeway run zone')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined })
    .option('--name <name>', 'zone name (env CAUSEWAY_NAME)')
    .option('--http-addr <addr>', 'HTTP API address (default 127.0.0.1:8500)')
    .option('--xds-addr <addr>', 'proxy config stream address (default 127.0.0.1:7701)')
    .option('--store <url>', 'store URL: embedded (default), memory, redis://…')
    .option('--data-dir <dir>', 'where the embedded store persists')
    .option('--bootstrap-token <token>', 'the management token when ACLs are on')
    .option(
      '--acl-bootstrap <mode>',
      'without --bootstrap-token: generate (default; logged once) or api (PUT /v1/acl/bootstrap)',
    )
    .option('--dev', 'local development: ACLs off');
  try {
    cmd.parse([...args], { from: 'user' });
  } catch (err) {
    throw new ConfigError(`causeway run zone: ${(err as Error).message.replace(/^error: /, '')}`);
  }
  const flags = cmd.opts<ZoneOptions>();
  return mergeOptions<ZoneOptions>({ env: readEnvOptions(env, envSpec), flags });
}

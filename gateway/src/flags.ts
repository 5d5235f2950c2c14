/**
 * `causeway run gateway` flags and `CAUSEWAY_*` variables → `GatewayCliOptions`. Flags win
 * over the environment.
 */
import { Command } from 'commander';
import { ConfigError, mergeOptions, readEnvOptions } from '../../core/index.ts';
import type { Env } from '../../core/index.ts';
import type { GatewayCliOptions } from './options.ts';

const envSpec = {
  bootstrap: 'string',
  gatewayName: 'string',
  publicListen: 'addr',
  localListen: 'addr',
  adminAddr: 'addr',
  helloTimeout: 'duration',
  zoneControl: 'string',
  publicAddr: 'addr',
  tokenFile: 'string',
  token: 'string',
} as const;

export function parseGatewayFlags(args: readonly string[], env: Env): GatewayCliOptions {
  const cmd = new Command('causeway run gateway')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined })
    .option('--bootstrap <file>', 'identity and gateway config from a file (YAML/JSON)')
    .option('--name <name>', 'the gateway name (its identity is …/zone/<zone>/gateway/<name>)')
    .option('--public-listen <addr>', 'where other zones connect (default 0.0.0.0:15443)')
    .option('--local-listen <addr>', "where this zone's proxies connect (default 127.0.0.1:15444)")
    .option('--admin-addr <addr>', 'admin API address (default 127.0.0.1:15000)')
    .option(
      '--hello-timeout <duration>',
      'how long a client may take to send its ClientHello (default 10s)',
    )
    .option('--zone-control <url>', "the zone's HTTP API: identity, config and registration")
    .option('--public-addr <addr>', 'host:port other zones dial (default: --public-listen)')
    .option('--token-file <file>', 'ACL token for the zone API (or env CAUSEWAY_TOKEN)');
  try {
    cmd.parse([...args], { from: 'user' });
  } catch (err) {
    throw new ConfigError(
      `causeway run gateway: ${(err as Error).message.replace(/^error: /, '')}`,
    );
  }
  const { gatewayName, ...env_ } = readEnvOptions(env, envSpec);
  return mergeOptions<GatewayCliOptions>({
    env: { ...env_, ...(gatewayName !== undefined ? { name: gatewayName } : {}) },
    flags: cmd.opts<GatewayCliOptions>(),
  });
}

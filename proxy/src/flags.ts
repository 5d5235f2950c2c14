/**
 * `causeway run proxy` flags and `CAUSEWAY_*` variables → `ProxyOptions`. Flags win over
 * the environment, which wins over defaults.
 */
import { Command } from 'commander';
import { ConfigError, mergeOptions, readEnvOptions } from '../../core/index.ts';
import type { Env } from '../../core/index.ts';
import type { ProxyOptions } from './options.ts';

const envSpec = {
  bootstrap: 'string',
  zoneControl: 'string',
  tokenFile: 'string',
  token: 'string',
  caFile: 'string',
  trustDomain: 'string',
  zone: 'string',
  service: 'string',
  namespace: 'string',
  appAddress: 'string',
  appProtocol: 'string',
  inboundPort: 'integer',
  inboundAddress: 'string',
  address: 'string',
  adminAddr: 'addr',
  instanceId: 'string',
  node: 'string',
  healthCheck: 'string',
  healthInterval: 'duration',
  workers: 'integer',
  accessLog: 'boolean',
} as const;

const collect = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  value,
];

export function parseProxyFlags(args: readonly string[], env: Env): ProxyOptions {
  const cmd = new Command('causeway run proxy')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined })
    .option('--bootstrap <file>', 'run from a static bootstrap file (YAML/JSON), no control plane')
    .option('--zone-control <url>', 'the zone config stream, wss://host:7701')
    .option('--token-file <file>', 'dataplane token file (or env CAUSEWAY_TOKEN)')
    .option('--ca-file <file>', 'trust bundle (PEM) the zone certificate must chain to')
    .option('--trust-domain <domain>', 'SPIFFE trust domain (default: from the CA file)')
    .option('--zone <name>', 'accept only this zone control plane (default: any zone)')
    .option('--service <name>', 'the service this proxy fronts')
    .option('--namespace <name>', 'its namespace (default "default")')
    .option('--port <port>', 'the local app port')
    .option('--app-address <host>', 'the local app address (default 127.0.0.1)')
    .option('--app-protocol <tcp|http>', 'what the app speaks (default tcp)')
    .option(
      '--upstream <[ns/]service[@zone]:port>',
      'an upstream and its local port; @zone: only that zone (repeatable)',
      collect,
    )
    .option('--inbound-port <port>', 'inbound mTLS port, 0 = any (default 15006)')
    .option('--inbound-address <host>', 'inbound bind address (default 0.0.0.0)')
    .option('--address <host>', 'the address peers dial (default: inbound address or host IPv4)')
    .option('--admin-addr <addr>', 'admin API address (default 127.0.0.1:15000)')
    .option('--instance-id <id>', 'catalog instance ID (default <service>-<host>-<random>)')
    .option('--node <name>', 'catalog node (default: host name)')
    .option('--meta <key=value>', 'catalog meta (repeatable)', collect)
    .option('--tag <tag>', 'catalog tag (repeatable)', collect)
    .option('--health-check <spec>', 'http://127.0.0.1:8080/health, tcp (default) or none')
    .option('--health-interval <duration>', 'how often the app is checked (default 10s)')
    .option('--workers <n>', 'processes sharing the listeners (default 1)')
    .option('--no-access-log', 'no log line per inbound request');
  try {
    cmd.parse([...args], { from: 'user' });
  } catch (err) {
    throw new ConfigError(`causeway run proxy: ${(err as Error).message.replace(/^error: /, '')}`);
  }
  const opts = cmd.opts<ProxyOptions & { accessLog?: boolean }>();
  // commander sets a --no-x flag's default to true; only an explicit --no-access-log counts.
  const flags: ProxyOptions = { ...opts };
  if (cmd.getOptionValueSource('accessLog') !== 'cli') delete flags.accessLog;
  return mergeOptions<ProxyOptions>({ env: readEnvOptions(env, envSpec), flags });
}

/**
 * `causeway run zone` flags and `CAUSEWAY_*` variables → `ZoneOptions`. Flags win over the
 * environment, which wins over defaults.
 */
import { Command } from 'commander';
import { ConfigError, mergeOptions, parseEnum, readEnvOptions } from '../../core/index.ts';
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
  trustDomain: 'string',
  caKeyType: (value: unknown, field: string) => parseEnum(value, field, ['ec', 'rsa'] as const),
  caCertFile: 'string',
  caKeyFile: 'string',
  caEncryptionKey: 'string',
  caEncryptionKeyFile: 'string',
  leafTtl: 'duration',
  caSignRate: 'integer',
  caParticipantTtl: 'duration',
  proxyDeregisterAfter: 'duration',
  proxyCheckTtl: 'duration',
  proxyConfigDebounce: 'duration',
  globalAddr: 'string',
  zoneToken: 'string',
  zoneTokenFile: 'string',
  globalCaFile: 'string',
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
    .option('--dev', 'local development: ACLs off')
    .option('--trust-domain <domain>', 'SPIFFE trust domain (default causeway.mesh)')
    .option('--ca-key-type <type>', 'generated CA keys: ec (P-256, default) or rsa (2048)')
    .option('--ca-cert-file <file>', 'provided root CA certificate (PEM), used at first start')
    .option('--ca-key-file <file>', 'provided root CA private key (PEM)')
    .option(
      '--ca-encryption-key-file <file>',
      'key sealing CA keys at rest (32 bytes base64/hex; or env CAUSEWAY_CA_ENCRYPTION_KEY)',
    )
    .option('--leaf-ttl <duration>', 'leaf certificate lifetime (default 24h)')
    .option('--ca-sign-rate <n>', 'CSR signings per second (default 500)')
    .option(
      '--ca-participant-ttl <duration>',
      'participants silent this long stop holding a root rotation (default 15m)',
    )
    .option(
      '--proxy-deregister-after <duration>',
      'deregister a proxy this long after its config stream dropped without leave (default 1m)',
    )
    .option(
      '--proxy-check-ttl <duration>',
      "TTL of a proxy's stream check, renewed while it is connected (default 30s)",
    )
    .option(
      '--proxy-config-debounce <duration>',
      'quiet time after a catalog or config entry change before proxies get new config (default 50ms)',
    )
    .option('--global-addr <url>', 'join this global control plane: wss://host:7601')
    .option(
      '--zone-token-file <file>',
      'the zone token from `causeway zone create` (or env CAUSEWAY_ZONE_TOKEN); needed until the zone joined',
    )
    .option('--global-ca-file <file>', "the global root (PEM) instead of the token's pin");
  try {
    cmd.parse([...args], { from: 'user' });
  } catch (err) {
    throw new ConfigError(`causeway run zone: ${(err as Error).message.replace(/^error: /, '')}`);
  }
  const flags = cmd.opts<ZoneOptions>();
  return mergeOptions<ZoneOptions>({ env: readEnvOptions(env, envSpec), flags });
}

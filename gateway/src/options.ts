/**
 * Gateway options: `GatewayCliOptions` (what flags and `CAUSEWAY_*` variables may set) →
 * `resolveGatewayCliOptions()` → `ResolvedGatewayCliOptions`. The identity and config
 * come from the zone (`--zone-control`, see `zone/`) or from a bootstrap file; both feed
 * `Gateway.updateIdentity` / `Gateway.apply`.
 */
import { ConfigError, parseAddr, parseDuration, validateSpiffeSegment } from '../../core/index.ts';
import type { HostPort } from '../../core/index.ts';

export interface GatewayCliOptions {
  /** A static bootstrap file (YAML or JSON) with the identity and the config. */
  bootstrap?: string;
  /** The gateway's name: its identity must be `…/gateway/<name>`. @default the leaf's */
  name?: string;
  /** @default "0.0.0.0:15443" (or the bootstrap file's `publicListen`) */
  publicListen?: string;
  /** @default "127.0.0.1:15444" (or the bootstrap file's `localListen`) */
  localListen?: string;
  /** @default "127.0.0.1:15000" (or the bootstrap file's `admin`) */
  adminAddr?: string;
  /** Bounds reading a connection's ClientHello. @default "10s" */
  helloTimeout?: string | number;
  /** The zone's HTTP API (`http://127.0.0.1:8500`): identity and config come from the zone. */
  zoneControl?: string;
  /** host:port other zones dial, when it differs from --public-listen (NAT, 0.0.0.0). */
  publicAddr?: string;
  /** A file holding the ACL token for the zone API (or env `CAUSEWAY_TOKEN`). */
  tokenFile?: string;
  token?: string;
}

export interface ResolvedGatewayCliOptions {
  /** `bootstrap`: identity and config from a file; `zone`: from the zone control plane. */
  mode: 'bootstrap' | 'zone';
  /** The bootstrap file (mode `bootstrap`), or the zone API URL (mode `zone`). */
  bootstrap: string;
  zoneControl?: string;
  publicAddr?: HostPort;
  tokenFile?: string;
  token?: string;
  name: string | undefined;
  /** Undefined: the file's, else the default. */
  publicListen: HostPort | undefined;
  localListen: HostPort | undefined;
  adminAddr: HostPort | undefined;
  helloTimeoutMs: number;
}

export const DEFAULT_PUBLIC_LISTEN = '0.0.0.0:15443';
export const DEFAULT_LOCAL_LISTEN = '127.0.0.1:15444';
export const DEFAULT_ADMIN_ADDR = '127.0.0.1:15000';

export function resolveGatewayCliOptions(options: GatewayCliOptions): ResolvedGatewayCliOptions {
  if (options.zoneControl !== undefined && options.bootstrap !== undefined) {
    throw new ConfigError(
      'give the gateway one source of identity and config: --zone-control URL or --bootstrap FILE',
      'zoneControl',
    );
  }
  if (
    options.zoneControl === undefined &&
    (options.bootstrap === undefined || options.bootstrap === '')
  ) {
    throw new ConfigError(
      '--zone-control URL (the zone API) or --bootstrap FILE (identity and config) is required',
      'bootstrap',
    );
  }
  if (options.zoneControl !== undefined && options.name === undefined) {
    throw new ConfigError('a gateway programmed by its zone needs --name', 'name');
  }
  if (options.token !== undefined && options.tokenFile !== undefined) {
    throw new ConfigError(
      'give the token as a file (--token-file) or CAUSEWAY_TOKEN, not both',
      'tokenFile',
    );
  }
  const name = options.name;
  if (name !== undefined) {
    try {
      validateSpiffeSegment(name, 'name');
    } catch (err) {
      throw new ConfigError((err as Error).message, 'name');
    }
  }
  const helloTimeoutMs = parseDuration(options.helloTimeout ?? '10s', 'helloTimeout');
  if (helloTimeoutMs < 100)
    throw new ConfigError('helloTimeout must be at least 100ms', 'helloTimeout');
  return {
    mode: options.zoneControl === undefined ? 'bootstrap' : 'zone',
    bootstrap: options.bootstrap ?? '',
    ...(options.zoneControl === undefined ? {} : { zoneControl: options.zoneControl }),
    ...(options.publicAddr === undefined
      ? {}
      : { publicAddr: parseAddr(options.publicAddr, 'publicAddr') }),
    ...(options.tokenFile === undefined ? {} : { tokenFile: options.tokenFile }),
    ...(options.token === undefined ? {} : { token: options.token }),
    name,
    publicListen: addr(options.publicListen, 'publicListen'),
    localListen: addr(options.localListen, 'localListen'),
    adminAddr: addr(options.adminAddr, 'adminAddr'),
    helloTimeoutMs,
  };
}

function addr(value: string | undefined, field: string): HostPort | undefined {
  return value === undefined ? undefined : parseAddr(value, field);
}

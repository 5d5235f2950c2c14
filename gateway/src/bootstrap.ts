/**
 * The gateway's static bootstrap file (`causeway run gateway --bootstrap gw.yaml`): an
 * identity and a {@link GatewayConfig} from disk, the same shape as the proxy's bootstrap.
 * YAML or JSON; relative paths are resolved against the file's directory; every error
 * names the file and the field.
 *
 * ```yaml
 * name: east-gw                                  # optional; --name wins, the leaf must match
 * admin: { address: 127.0.0.1, port: 15000 }    # optional; port 0 = any free port
 * publicListen: { address: 0.0.0.0, port: 15443 }
 * localListen: { address: 127.0.0.1, port: 15444 }
 * identity:
 *   certFile: gw.pem          # the leaf followed by its intermediates
 *   keyFile: gw-key.pem
 *   rootsFile: roots.pem
 *   revokedSerials: []        # optional, lowercase hex
 * config: { ... }             # a GatewayConfig as decodeGatewayConfig accepts it
 * ```
 */
import {
  decodeGatewayConfig,
  isPlainObject,
  loadIdentityFiles,
  readConfigFile,
} from '../../core/index.ts';
import type { GatewayConfig, HostPort } from '../../core/index.ts';
import type { GatewayIdentityMaterial } from './identity/gateway-tls.ts';

export interface GatewayBootstrap {
  file: string;
  name: string | undefined;
  admin: HostPort | undefined;
  publicListen: HostPort | undefined;
  localListen: HostPort | undefined;
  identity: GatewayIdentityMaterial;
  /** The leaf's SPIFFE ID, a gateway's. */
  spiffeId: string;
  /** The leaf's gateway name. */
  identityName: string;
  config: GatewayConfig;
}

const FIELDS = ['name', 'admin', 'publicListen', 'localListen', 'identity', 'config'];

export async function loadGatewayBootstrap(file: string): Promise<GatewayBootstrap> {
  const { path, root, fail } = await readConfigFile(file, FIELDS);

  const hostPort = (value: unknown, field: string): HostPort | undefined => {
    if (value === undefined) return undefined;
    if (!isPlainObject(value)) return fail('must be an object { address, port }', field);
    const address = value.address ?? '127.0.0.1';
    if (typeof address !== 'string' || address === '')
      fail('must be a host or IP address', `${field}.address`);
    const port = value.port;
    if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) {
      fail('must be a port number 0-65535', `${field}.port`);
    }
    return { host: address as string, port: port as number };
  };
  const name = root.name;
  if (
    name !== undefined &&
    (typeof name !== 'string' || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name))
  ) {
    fail('must be a lowercase DNS label', 'name');
  }

  const identity = await loadIdentityFiles(root.identity, file);
  const { spiffeId, id: leafId } = identity;
  if (leafId.kind !== 'gateway') {
    return fail(
      `${spiffeId} is not a gateway identity (spiffe://<td>/zone/<zone>/gateway/<name>)`,
      'identity.certFile',
    );
  }
  if (name !== undefined && leafId.name !== name) {
    fail(`${spiffeId} is not the gateway named ${name as string}`, 'identity.certFile');
  }

  let config: GatewayConfig;
  try {
    config = decodeGatewayConfig(root.config);
  } catch (err) {
    const field = (err as { field?: string }).field;
    return fail((err as Error).message, field ? `config.${field}` : 'config');
  }
  if (leafId.trustDomain !== config.trustDomain || leafId.zone !== config.zone) {
    fail(
      `${spiffeId} is not a gateway of zone ${config.zone} in trust domain ${config.trustDomain}`,
      'identity.certFile',
    );
  }
  return {
    file: path,
    name: name as string | undefined,
    admin: hostPort(root.admin, 'admin'),
    publicListen: hostPort(root.publicListen, 'publicListen'),
    localListen: hostPort(root.localListen, 'localListen'),
    identity: {
      certificatePem: identity.certificatePem,
      chainPem: identity.chainPem,
      keyPem: identity.keyPem,
      roots: identity.roots,
      revokedSerials: identity.revokedSerials,
    },
    spiffeId,
    identityName: leafId.name,
    config,
  };
}

/**
 * The static bootstrap file (`causeway run proxy --bootstrap proxy.yaml`): a config
 * snapshot and an identity from disk, for benchmarks, debugging and hosts without a
 * control plane. YAML or JSON (JSON is YAML). Relative paths are resolved against the
 * file's directory. Every error names the file and the field.
 *
 * ```yaml
 * admin: { address: 127.0.0.1, port: 15000 }   # optional; port 0 = any free port
 * inboundAddress: 127.0.0.1                     # optional; default 0.0.0.0
 * app: { address: 127.0.0.1, port: 8080 }
 * identity:
 *   certFile: leaf.pem        # the leaf followed by its intermediates
 *   keyFile: leaf-key.pem
 *   rootsFile: roots.pem
 *   revokedSerials: []        # optional, lowercase hex
 * config: { ... }             # a ProxyConfig as decodeProxyConfig accepts it
 * ```
 */
import {
  decodeProxyConfig,
  isPlainObject,
  loadIdentityFiles,
  readConfigFile,
} from '../../core/index.ts';
import type { HostPort, ProxyConfig } from '../../core/index.ts';
import type { IdentityMaterial } from './identity/tls-identity.ts';
import type { LocalApp } from './inbound/local-app.ts';

export interface Bootstrap {
  file: string;
  admin: HostPort | undefined;
  inboundAddress: string;
  app: LocalApp;
  identity: IdentityMaterial;
  /** The leaf's SPIFFE ID. */
  spiffeId: string;
  config: ProxyConfig;
}

export async function loadBootstrap(file: string): Promise<Bootstrap> {
  const { path, root, fail } = await readConfigFile(file, [
    'admin',
    'inboundAddress',
    'app',
    'identity',
    'config',
  ]);

  const hostPort = (value: unknown, field: string, allowZero: boolean): HostPort => {
    if (!isPlainObject(value)) return fail('must be an object { address, port }', field);
    const address = value.address ?? '127.0.0.1';
    if (typeof address !== 'string' || address === '')
      fail('must be a host or IP address', `${field}.address`);
    const port = value.port;
    if (
      !Number.isInteger(port) ||
      (port as number) < (allowZero ? 0 : 1) ||
      (port as number) > 65535
    ) {
      fail(`must be a port number ${allowZero ? '0' : '1'}-65535`, `${field}.port`);
    }
    return { host: address as string, port: port as number };
  };

  const admin = root.admin === undefined ? undefined : hostPort(root.admin, 'admin', true);
  const appAddr = hostPort(root.app, 'app', false);
  const inboundAddress = root.inboundAddress ?? '0.0.0.0';
  if (typeof inboundAddress !== 'string' || inboundAddress === '')
    fail('must be an address', 'inboundAddress');

  const identity = await loadIdentityFiles(root.identity, file);
  const { spiffeId } = identity;

  let config: ProxyConfig;
  try {
    config = decodeProxyConfig(root.config);
  } catch (err) {
    const field = (err as { field?: string }).field;
    return fail((err as Error).message, field ? `config.${field}` : 'config');
  }
  if (!spiffeId.startsWith(`spiffe://${config.trustDomain}/`)) {
    fail(
      `${spiffeId} is not in the config's trust domain ${config.trustDomain}`,
      'identity.certFile',
    );
  }
  return {
    file: path,
    admin,
    inboundAddress: inboundAddress as string,
    app: { address: appAddr.host, port: appAddr.port },
    identity: {
      certificatePem: identity.certificatePem,
      chainPem: identity.chainPem,
      keyPem: identity.keyPem,
      roots: identity.roots,
      revokedSerials: identity.revokedSerials,
    },
    spiffeId,
    config,
  };
}

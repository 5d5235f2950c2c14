/**
 * The Causeway side of the proxy benchmark: two `causeway run proxy --bootstrap` processes
 * from static bootstrap files (no control plane), set up like HAProxy's pair. The client
 * proxy has one outbound listener on 127.0.0.1 whose cluster's single endpoint is the
 * server proxy's inbound mTLS port; the server proxy's inbound forwards to the app. Both
 * the listener and the inbound speak `http` (L7) or both `tcp` (L4, an mTLS tunnel). Both
 * log at `warn`, so there are no access logs.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort, waitUntilServing } from './child-server.ts';
import type { LeafFiles, MeshCerts } from './mesh-certs.ts';
import type { ProcessGroup, Started } from './process-group.ts';

export interface CausewayPair {
  /** Where the load generator sends plain HTTP (the client proxy's outbound listener). */
  outboundPort: number;
  inboundPort: number;
  outbound: Started;
  inbound: Started;
  bootstrapFiles: string[];
  /** The command line of one proxy, for the record. */
  command: string;
}

export interface CausewayPairOptions {
  certs: MeshCerts;
  client: LeafFiles;
  server: LeafFiles;
  appPort: number;
  /** `--workers N` for each proxy. */
  workers: number;
  /** The outbound listener's and the inbound's protocol. @default "http" */
  protocol?: 'http' | 'tcp';
  /**
   * Run both proxies under `node --cpu-prof`, writing profiles (on exit) to
   * `<profileDir>/outbound` and `<profileDir>/inbound`.
   */
  profileDir?: string;
  logLevel?: string;
}

interface BootstrapPorts {
  admin: number;
  inbound: number;
  outbound?: { port: number; endpointPort: number };
}

/** A bootstrap file as the preamble fixes it: admin, app, identity, config. */
export function bootstrap(
  o: CausewayPairOptions,
  leaf: LeafFiles,
  ports: BootstrapPorts,
): Record<string, unknown> {
  const { certs } = o;
  const destination = o.server.service;
  return {
    admin: { address: '127.0.0.1', port: ports.admin },
    inboundAddress: '127.0.0.1',
    app: { address: '127.0.0.1', port: o.appPort },
    identity: { certFile: leaf.certFile, keyFile: leaf.keyFile, rootsFile: certs.rootsFile },
    config: {
      service: leaf.service,
      namespace: certs.namespace,
      zone: certs.zone,
      trustDomain: certs.trustDomain,
      inbound: { port: ports.inbound, protocol: o.protocol ?? 'http' },
      outbound: ports.outbound
        ? [
            {
              name: destination,
              port: ports.outbound.port,
              protocol: o.protocol ?? 'http',
              routes: [{ destinations: [{ cluster: destination }] }],
            },
          ]
        : [],
      clusters: ports.outbound
        ? [
            {
              name: destination,
              service: destination,
              namespace: certs.namespace,
              endpoints: [
                {
                  address: '127.0.0.1',
                  port: ports.outbound.endpointPort,
                  zone: certs.zone,
                  instanceId: `${destination}-1`,
                },
              ],
            },
          ]
        : [],
    },
  };
}

export function causewayArgs(
  o: CausewayPairOptions,
  bootstrapFile: string,
  nodeOptions: string[] = [],
): string[] {
  return [
    ...nodeOptions,
    path.resolve('cli/bin/causeway.js'),
    '--log-level',
    o.logLevel ?? 'warn',
    'run',
    'proxy',
    '--bootstrap',
    bootstrapFile,
    '--workers',
    String(o.workers),
  ];
}

async function startOne(
  group: ProcessGroup,
  name: string,
  o: CausewayPairOptions,
  file: string,
  adminPort: number,
  role: 'outbound' | 'inbound',
): Promise<Started> {
  const profile = o.profileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${path.join(o.profileDir, role)}`]
    : [];
  const started = group.spawn(name, process.execPath, causewayArgs(o, file, profile));
  await waitUntilServing(started.child, `http://127.0.0.1:${adminPort}/ready`, name, 30_000);
  return started;
}

export async function startCausewayPair(
  group: ProcessGroup,
  o: CausewayPairOptions,
): Promise<CausewayPair> {
  const [serverAdmin, serverInbound, clientAdmin, clientInbound, outboundPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const suffix = `${o.protocol ?? 'http'}-${o.workers}`;
  const serverFile = path.join(o.certs.dir, `causeway-server-${suffix}.yaml`);
  const clientFile = path.join(o.certs.dir, `causeway-client-${suffix}.yaml`);
  await writeFile(
    serverFile,
    stringify(bootstrap(o, o.server, { admin: serverAdmin, inbound: serverInbound })),
  );
  await writeFile(
    clientFile,
    stringify(
      bootstrap(o, o.client, {
        admin: clientAdmin,
        inbound: clientInbound,
        outbound: { port: outboundPort, endpointPort: serverInbound },
      }),
    ),
  );
  const inbound = await startOne(
    group,
    'causeway inbound proxy',
    o,
    serverFile,
    serverAdmin,
    'inbound',
  );
  let outbound: Started;
  try {
    outbound = await startOne(
      group,
      'causeway outbound proxy',
      o,
      clientFile,
      clientAdmin,
      'outbound',
    );
  } catch (err) {
    await group.stop(inbound);
    throw err;
  }
  return {
    outboundPort,
    inboundPort: serverInbound,
    outbound,
    inbound,
    bootstrapFiles: [clientFile, serverFile],
    command: `node ${causewayArgs(o, 'client.yaml')
      .map((a) => (a.startsWith('/') ? path.relative(process.cwd(), a) : a))
      .join(' ')}`,
  };
}

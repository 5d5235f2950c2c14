/**
 * The HAProxy side of the proxy benchmark: two `haproxy` processes set up like a pair of
 * sidecars. The outbound one takes plain HTTP on 127.0.0.1 and originates mutual TLS to
 * the inbound one (client certificate, server chain verified against the mesh roots); the
 * inbound one terminates mutual TLS (client certificate required and
 * verified) and forwards to the app. In `mode http` both keep connections alive on every
 * hop (`http-reuse always` towards the next hop); in `mode tcp` each client connection
 * is tunnelled through its own mTLS connection, as Causeway's `tcp` listeners do. Both
 * resume TLS sessions (HAProxy's default on `server` lines) and log nothing.
 */
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { freePort } from './child-server.ts';
import type { LeafFiles, MeshCerts } from './mesh-certs.ts';
import type { ProcessGroup, Started } from './process-group.ts';

export interface HaproxyPair {
  /** Where the load generator sends plain HTTP (the outbound listener). */
  outboundPort: number;
  inboundPort: number;
  outbound: Started;
  inbound: Started;
  /** The generated configuration files, for the record. */
  configFiles: string[];
}

export interface HaproxyPairOptions {
  certs: MeshCerts;
  client: LeafFiles;
  server: LeafFiles;
  appPort: number;
  /** HAProxy threads per process (`nbthread`), to match Causeway's `--workers`. */
  threads: number;
  /** `mode http` (L7) or `mode tcp` (L4). @default "http" */
  mode?: 'http' | 'tcp';
}

/** Settings both processes share: timeouts long enough never to fire in a run, no logs. */
function common(threads: number, mode: 'http' | 'tcp'): string {
  const http =
    mode === 'http'
      ? `    option http-keep-alive
    timeout http-keep-alive 60s
    timeout http-request 10s
`
      : '';
  return `global
    nbthread ${threads}
    maxconn 4096
    # no "log" line: HAProxy logs nothing

defaults
    mode ${mode}
    timeout connect 5s
    timeout client 60s
    timeout server 60s
${http}`;
}

/** `http-reuse always` where there are requests to reuse connections for. */
const reuse = (o: HaproxyPairOptions): string =>
  (o.mode ?? 'http') === 'http' ? '    http-reuse always\n' : '';

export function outboundConfig(
  o: HaproxyPairOptions,
  listenPort: number,
  inboundPort: number,
): string {
  return `${common(o.threads, o.mode ?? 'http')}
frontend outbound
    bind 127.0.0.1:${listenPort}
    default_backend mesh

backend mesh
${reuse(o)}    # No "sni": with "verify required", HAProxy 2.6 then checks the server certificate's
    # DNS names against the SNI, and mesh leaves carry only a SPIFFE URI SAN, which
    # HAProxy cannot check. So HAProxy verifies the chain but not the peer's identity
    # (Causeway verifies both): slightly less work per handshake, rare with keep-alive.
    server s1 127.0.0.1:${inboundPort} ssl crt ${o.client.combinedFile} ca-file ${o.certs.rootsFile} verify required
`;
}

export function inboundConfig(o: HaproxyPairOptions, listenPort: number): string {
  return `${common(o.threads, o.mode ?? 'http')}
frontend inbound
    bind 127.0.0.1:${listenPort} ssl crt ${o.server.combinedFile} ca-file ${o.certs.rootsFile} verify required
    default_backend app

backend app
${reuse(o)}    server app 127.0.0.1:${o.appPort}
`;
}

async function startOne(
  group: ProcessGroup,
  name: string,
  configFile: string,
  port: number,
): Promise<Started> {
  // -db: stay in the foreground; -W is not needed for a single process.
  const started = group.spawn(name, 'haproxy', ['-db', '-f', configFile]);
  await waitForPort(started, port, name);
  return started;
}

/** Poll a TCP connect until the port accepts, failing with HAProxy's output if it exits. */
async function waitForPort(started: Started, port: number, name: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (started.child.exitCode !== null || started.child.signalCode !== null) {
      throw new Error(`${name} exited at start:\n${started.output()}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`${name} did not listen on ${port}:\n${started.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startHaproxyPair(
  group: ProcessGroup,
  o: HaproxyPairOptions,
): Promise<HaproxyPair> {
  const inboundPort = await freePort();
  const outboundPort = await freePort();
  const suffix = `${o.mode ?? 'http'}-${o.threads}`;
  const inFile = path.join(o.certs.dir, `haproxy-inbound-${suffix}.cfg`);
  const outFile = path.join(o.certs.dir, `haproxy-outbound-${suffix}.cfg`);
  await writeFile(inFile, inboundConfig(o, inboundPort));
  await writeFile(outFile, outboundConfig(o, outboundPort, inboundPort));
  const inbound = await startOne(group, 'haproxy inbound', inFile, inboundPort);
  let outbound: Started;
  try {
    outbound = await startOne(group, 'haproxy outbound', outFile, outboundPort);
  } catch (err) {
    await group.stop(inbound);
    throw err;
  }
  return { outboundPort, inboundPort, outbound, inbound, configFiles: [outFile, inFile] };
}

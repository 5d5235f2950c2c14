/**
 * A cross-zone TCP call end to end, on the mesh `causeway dev` starts (global, zones east
 * and west, a gateway in each) plus, as real child processes: a TCP echo app in west behind
 * a sidecar (`--app-protocol tcp`), and two callers' sidecars in east pinned to west
 * (`--upstream echo@west:<port>`).
 *
 * Both identities are checked where they matter:
 * - the destination: west's sidecar logs the caller's SPIFFE ID, and an intention that
 *   allows only `tcpclient` from east makes it refuse `intruder` from east;
 * - the source: east's sidecar refuses a destination whose certificate names another
 *   service. A rogue registration of `ghost` in west points at echo's sidecar, so the
 *   gateways carry a connection for `ghost` to a workload that answers as `echo`; the
 *   caller sees `…/svc/echo` through both tunnels and closes the connection.
 * The bytes go through the gateways: their tunnel counters and byte counters move, and
 * their HTTP/2 sessions are between the two gateway identities.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { DevMesh } from '../../cli/src/dev/dev-mesh.ts';
import {
  createCsr,
  formatSpiffeId,
  generateKeyPair,
  spiffeServerIdentityCheck,
} from '../../core/index.ts';
import { PROTOCOL_VERSION } from '../../core/src/proxy-stream/messages.ts';
import { eventually, withTimeout } from '../helpers/async.ts';
import { childEnv } from '../helpers/child-env.ts';
import { freePort } from '../helpers/ports.ts';
import { proxyReady, runProxy, stopProxy } from '../helpers/proxy-process.ts';
import type { ProxyProcess } from '../helpers/proxy-process.ts';

const TD = 'causeway.mesh';
const CLIENT_ID = `spiffe://${TD}/zone/east/ns/default/svc/tcpclient`;
const INTRUDER_ID = `spiffe://${TD}/zone/east/ns/default/svc/intruder`;
const ECHO_ID = `spiffe://${TD}/zone/west/ns/default/svc/echo`;

/** A TCP echo app: every byte back, and its FIN after the client's. */
const ECHO_APP = `
const net = require('node:net');
const server = net.createServer({ allowHalfOpen: true }, (s) => { s.on('error', () => {}); s.pipe(s); });
server.listen(0, '127.0.0.1', () => console.log('echo listening on ' + server.address().port));
`;

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

async function getText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return res.text();
}

async function putJson(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, {
    method: 'PUT',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`PUT ${url}: ${res.status} ${text}`);
}

/**
 * The sum of a Prometheus metric's samples whose labels include `labels` (so one sum
 * covers e.g. resumed and full handshakes).
 */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(?:\{(.*)\})? ([^ ]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map(
      [...(m[2] ?? '').matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}

interface TcpOutcome {
  /** Everything the other end sent back before the connection ended. */
  received: Buffer;
  error?: string;
}

/** Open a connection to 127.0.0.1:`port`, send `payload`, half-close, read to the end. */
async function tcpRoundTrip(
  port: number,
  payload: Buffer,
  timeoutMs = 15_000,
): Promise<TcpOutcome> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  let error: string | undefined;
  socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
  socket.once('connect', () => socket.end(payload));
  try {
    // Not events.once: it rejects on 'error', and a reset is an outcome here.
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await withTimeout(closed, timeoutMs, `the connection to port ${port} to end`);
  } finally {
    socket.destroy();
  }
  return { received: Buffer.concat(chunks), ...(error ? { error } : {}) };
}

/** The parts of a gateway's `/tunnels` the test reads. */
interface Tunnels {
  outbound: { zone: string; sessions: { peer?: string }[] }[];
  inbound: { peer?: string }[];
}

/**
 * A rogue registration: a config stream client in west that says it is an instance of
 * `ghost` whose inbound listener is `port` (really echo's sidecar). Dev zones ask for no
 * token, so the zone registers it like any proxy; it stays registered while connected.
 */
async function registerRogue(
  xdsPort: number,
  rootsPem: string,
  service: string,
  port: number,
): Promise<WebSocket> {
  const control = formatSpiffeId({ kind: 'control', trustDomain: TD, zone: 'west' });
  // Node's TLS options, which ws passes to tls.connect (its own ClientOptions type
  // `checkServerIdentity` as a boolean variant).
  const tlsOptions: https.RequestOptions = {
    ca: rootsPem,
    checkServerIdentity: spiffeServerIdentityCheck(control),
  };
  const ws = new WebSocket(`wss://127.0.0.1:${xdsPort}/`, tlsOptions);
  ws.on('error', () => undefined);
  await withTimeout(once(ws, 'open'), 10_000, "the rogue's stream to open");
  const keyPair = await generateKeyPair();
  const frames: { type: string; code?: string; message?: string }[] = [];
  ws.on('message', (data: Buffer) => frames.push(JSON.parse(data.toString()) as never));
  ws.send(
    JSON.stringify({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      service,
      namespace: 'default',
      instanceId: `${service}-rogue-${randomUUID().slice(0, 6)}`,
      address: '127.0.0.1',
      port,
      upstreams: [],
      csr: createCsr({
        keyPair,
        spiffeId: formatSpiffeId({
          kind: 'workload',
          trustDomain: TD,
          zone: 'west',
          namespace: 'default',
          service,
        }),
      }),
      appProtocol: 'tcp',
      node: 'rogue-node',
      meta: {},
      tags: [],
    }),
  );
  try {
    await eventually(
      () => {
        const error = frames.find((f) => f.type === 'error');
        if (error) throw new Error(`the zone refused the rogue hello: ${error.message}`);
        return frames.some((f) => f.type === 'config');
      },
      'a config for the rogue registration',
      15_000,
    );
  } catch (err) {
    ws.close();
    throw err;
  }
  return ws;
}

describe('cross-zone TCP through the gateways (e2e)', function () {
  this.timeout(60_000);

  const mesh = new DevMesh({ say: () => {}, env: childEnv(), timeoutMs: 150_000, anyPorts: true });
  let crashed: Error | undefined;
  void mesh.failure.then((err) => (crashed = err));

  let echoApp: ChildProcess | undefined;
  let echoOut = '';
  const sidecars: ProxyProcess[] = [];
  let echoSidecar!: ProxyProcess;
  let clientSidecar!: ProxyProcess;
  let rogue: WebSocket | undefined;
  const ports = { echo: 0, ghost: 0, intruderEcho: 0 };
  let eastGwAdmin = '';
  let westGwAdmin = '';

  before(async function () {
    this.timeout(240_000);
    await mesh.start();
    const p = mesh.ports;
    const eastUrl = `http://127.0.0.1:${p.zones.east.http}`;
    const westUrl = `http://127.0.0.1:${p.zones.west.http}`;
    eastGwAdmin = `http://127.0.0.1:${p.zones.east.gatewayAdmin}`;
    westGwAdmin = `http://127.0.0.1:${p.zones.west.gatewayAdmin}`;
    const rootsFile = path.join(mesh.dir, 'roots.pem');
    console.log(`      (mesh logs in ${mesh.dir})`);

    echoApp = spawn(process.execPath, ['-e', ECHO_APP], {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    echoApp.stdout?.setEncoding('utf8').on('data', (d: string) => (echoOut += d));
    echoApp.stderr?.setEncoding('utf8').on('data', (d: string) => (echoOut += d));
    const echoPort = await eventually(
      () => {
        if (echoApp?.exitCode !== null) throw new Error(`the echo app exited:\n${echoOut}`);
        const m = /echo listening on (\d+)/.exec(echoOut);
        return m ? Number(m[1]) : undefined;
      },
      'the echo app to listen',
      20_000,
    );

    // West exports echo (and the rogue ghost) to east only, keeps api exported as `causeway
    // dev` did, and lets only tcpclient from east call echo.
    await putJson(`${westUrl}/v1/config`, {
      Kind: 'exported-services',
      Name: 'default',
      Services: [
        { Name: 'api', Consumers: [{ Zone: '*' }] },
        { Name: 'echo', Consumers: [{ Zone: 'east' }] },
        { Name: 'ghost', Consumers: [{ Zone: 'east' }] },
      ],
    });
    await putJson(`${westUrl}/v1/config`, {
      Kind: 'service-intentions',
      Name: 'echo',
      Sources: [
        { Name: 'tcpclient', Zone: 'east', Action: 'allow' },
        { Name: '*', Action: 'deny' },
      ],
    });

    const common = (zone: 'east' | 'west', service: string, appPort: number): string[] => [
      '--zone-control',
      `wss://127.0.0.1:${p.zones[zone].xds}`,
      '--ca-file',
      rootsFile,
      '--service',
      service,
      '--port',
      String(appPort),
      '--inbound-address',
      '127.0.0.1',
      '--address',
      '127.0.0.1',
      '--inbound-port',
      '0',
      '--admin-addr',
      '127.0.0.1:0',
    ];
    ports.echo = await freePort();
    ports.ghost = await freePort();
    ports.intruderEcho = await freePort();
    // The callers have no app of their own: nothing to health-check. allSettled: every
    // sidecar that started is stopped in `after`, even if another one failed.
    const started = await Promise.allSettled([
      runProxy([...common('west', 'echo', echoPort), '--app-protocol', 'tcp']),
      runProxy([
        ...common('east', 'tcpclient', await freePort()),
        '--health-check',
        'none',
        '--upstream',
        `echo@west:${ports.echo}`,
        '--upstream',
        `ghost@west:${ports.ghost}`,
      ]),
      runProxy([
        ...common('east', 'intruder', await freePort()),
        '--health-check',
        'none',
        '--upstream',
        `echo@west:${ports.intruderEcho}`,
      ]),
    ]);
    for (const s of started) if (s.status === 'fulfilled') sidecars.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const [echo, client] = sidecars as [ProxyProcess, ProxyProcess, ProxyProcess];
    echoSidecar = echo;
    clientSidecar = client;
    await Promise.all(sidecars.map((s) => proxyReady(s, 30_000)));

    const dump = await getJson<{
      listeners: { inbound?: number };
      identity?: { spiffeId?: string };
    }>(`${echo.adminUrl}/config_dump`);
    expect(dump.identity?.spiffeId).to.equal(ECHO_ID);
    const echoInbound = dump.listeners.inbound;
    if (echoInbound === undefined) throw new Error('echo sidecar reports no inbound port');
    rogue = await registerRogue(
      p.zones.west.xds,
      await readFile(rootsFile, 'utf8'),
      'ghost',
      echoInbound,
    );

    // East learns both exports through global, and the caller's snapshot gets their
    // gateway endpoints.
    await eventually(
      async () => {
        const { remoteServices } = await getJson<{
          remoteServices: { zone: string; service: string; healthy: number }[];
        }>(`${eastUrl}/api/federation`);
        return ['echo', 'ghost'].every((name) =>
          remoteServices.some((s) => s.zone === 'west' && s.service === name && s.healthy > 0),
        );
      },
      'echo and ghost from west known at east',
      30_000,
      200,
    );
    await eventually(
      async () => {
        const { clusters } = await getJson<{
          clusters: { name: string; endpoints: unknown[] }[];
        }>(`${client.adminUrl}/clusters`);
        return ['echo.default.west', 'ghost.default.west'].every(
          (name) => (clusters.find((c) => c.name === name)?.endpoints.length ?? 0) > 0,
        );
      },
      "the caller's clusters for echo and ghost in west to have endpoints",
      30_000,
      200,
    );
    // The path works end to end before the tests measure it.
    const probe = Buffer.from('probe');
    await eventually(
      async () => (await tcpRoundTrip(ports.echo, probe)).received.equals(probe),
      'a first echo across the zones',
      30_000,
      200,
    );
  });

  after(async function () {
    this.timeout(60_000);
    rogue?.close();
    await Promise.all(sidecars.map((s) => stopProxy(s)));
    if (echoApp && echoApp.exitCode === null && echoApp.signalCode === null) {
      const exited = once(echoApp, 'exit');
      echoApp.kill('SIGTERM');
      await exited;
    }
    await mesh.stop();
  });

  afterEach(function () {
    if (crashed) throw crashed;
  });

  it('echoes bytes from east to a TCP service in west through both gateways, the caller identified in west', async () => {
    const [eastBefore, westBefore, clientBefore] = await Promise.all([
      getText(`${eastGwAdmin}/stats/prometheus`),
      getText(`${westGwAdmin}/stats/prometheus`),
      getText(`${clientSidecar.adminUrl}/stats/prometheus`),
    ]);
    const payload = randomBytes(256 * 1024);
    const { received, error } = await tcpRoundTrip(ports.echo, payload);
    expect(error).to.equal(undefined);
    expect(received.length).to.equal(payload.length);
    expect(received.equals(payload), 'the echo is the bytes sent').to.equal(true);

    // West's sidecar verified the caller's certificate through both gateways: its access
    // log names tcpclient of east, with the bytes of this connection.
    const line = await eventually(
      () =>
        echoSidecar
          .output()
          .split('\n')
          .map((l) => {
            try {
              return JSON.parse(l) as {
                msg?: string;
                source?: string;
                bytesIn?: number;
                outcome?: string;
              };
            } catch {
              return undefined;
            }
          })
          .find((l) => l?.msg === 'inbound connection' && (l.bytesIn ?? 0) >= payload.length),
      "west's access log line for the connection",
      10_000,
      100,
    );
    expect(line.source).to.equal(CLIENT_ID);
    expect(line.outcome).to.equal('ok');

    // East's sidecar completed (and checked) an outbound handshake.
    const clientAfter = await getText(`${clientSidecar.adminUrl}/stats/prometheus`);
    const handshakes = (t: string): number =>
      metric(t, 'causeway_proxy_tls_handshakes_total', { direction: 'outbound', outcome: 'ok' });
    expect(handshakes(clientAfter) - handshakes(clientBefore)).to.be.at.least(1);

    // Through east's local listener into a tunnel, out of west's public listener: counted
    // when the connection ends, so poll.
    const moved = (
      before: string,
      after: string,
      name: string,
      labels: Record<string, string>,
    ): number => metric(after, name, labels) - metric(before, name, labels);
    await eventually(
      async () => {
        const [eastAfter, westAfter] = await Promise.all([
          getText(`${eastGwAdmin}/stats/prometheus`),
          getText(`${westGwAdmin}/stats/prometheus`),
        ]);
        const east = { listener: 'local', mode: 'tunnel' };
        const west = { listener: 'public', mode: 'tunnel' };
        const bytes = 'causeway_gateway_bytes_total';
        return (
          moved(eastBefore, eastAfter, 'causeway_gateway_connections_total', east) >= 1 &&
          moved(westBefore, westAfter, 'causeway_gateway_connections_total', west) >= 1 &&
          moved(eastBefore, eastAfter, bytes, { ...east, direction: 'received' }) >=
            payload.length &&
          moved(eastBefore, eastAfter, bytes, { ...east, direction: 'sent' }) >= payload.length &&
          moved(westBefore, westAfter, bytes, { ...west, direction: 'received' }) >=
            payload.length &&
          moved(westBefore, westAfter, bytes, { ...west, direction: 'sent' }) >= payload.length
        );
      },
      "the gateways' tunnel and byte counters to cover the connection",
      10_000,
      200,
    );

    // The tunnel between them is mutual TLS between the two gateway identities.
    const eastTunnels = await getJson<Tunnels>(`${eastGwAdmin}/tunnels`);
    const westTunnels = await getJson<Tunnels>(`${westGwAdmin}/tunnels`);
    const toWest = eastTunnels.outbound.find((z) => z.zone === 'west');
    expect(toWest?.sessions.map((s) => s.peer)).to.include(
      `spiffe://${TD}/zone/west/gateway/west-gw`,
    );
    expect(westTunnels.inbound.map((s) => s.peer)).to.include(
      `spiffe://${TD}/zone/east/gateway/east-gw`,
    );
  });

  it('refuses, in west, an east caller that the intention does not allow', async () => {
    const before = await getText(`${echoSidecar.adminUrl}/stats/prometheus`);
    const payload = Buffer.from('let me in');
    const { received } = await tcpRoundTrip(ports.intruderEcho, payload);
    expect(received.length, 'bytes echoed to the intruder').to.equal(0);

    const after = await getText(`${echoSidecar.adminUrl}/stats/prometheus`);
    const denied = (t: string): number =>
      metric(t, 'causeway_proxy_authz_denied_total', { source_service: 'intruder' });
    expect(denied(after) - denied(before)).to.be.at.least(1);
    // Its log names the caller it refused (the line may still be in the pipe).
    const deniedLine = new RegExp(
      `"source":"${INTRUDER_ID}"[^\\n]*"msg":"inbound connection denied"`,
    );
    await eventually(
      () => deniedLine.test(echoSidecar.output()),
      "west's log line for the denied caller",
      10_000,
      100,
    );
    // And the caller it allows still gets through.
    const ok = await tcpRoundTrip(ports.echo, payload);
    expect(ok.received.equals(payload)).to.equal(true);
  });

  it('refuses, in east, a destination whose certificate names another service than the upstream', async () => {
    const [clientBefore, westBefore] = await Promise.all([
      getText(`${clientSidecar.adminUrl}/stats/prometheus`),
      getText(`${westGwAdmin}/stats/prometheus`),
    ]);
    const payload = Buffer.from('for ghost only');
    const { received } = await tcpRoundTrip(ports.ghost, payload);
    expect(received.length, 'bytes echoed through the impostor').to.equal(0);

    const clientAfter = await getText(`${clientSidecar.adminUrl}/stats/prometheus`);
    const refused = (t: string): number =>
      metric(t, 'causeway_proxy_tls_handshakes_total', {
        direction: 'outbound',
        outcome: 'refused',
      });
    expect(refused(clientAfter) - refused(clientBefore)).to.be.at.least(1);
    // The caller saw echo's own identity through both gateways and named the mismatch.
    const failure = await eventually(
      () =>
        clientSidecar
          .output()
          .split('\n')
          .find(
            (l) => l.includes('"cluster":"ghost.default.west"') && l.includes('"outcome":"error"'),
          ),
      "the caller's log line for the refused connection",
      10_000,
      100,
    );
    expect(failure).to.include(`peer ${ECHO_ID} is not default/ghost`);
    // The connection did cross to west (the refusal is the caller's, end to end).
    await eventually(
      async () => {
        const westAfter = await getText(`${westGwAdmin}/stats/prometheus`);
        const tunnels = (t: string): number =>
          metric(t, 'causeway_gateway_connections_total', { listener: 'public', mode: 'tunnel' });
        return tunnels(westAfter) - tunnels(westBefore) >= 1;
      },
      "west's gateway to count the refused connection's stream",
      10_000,
      200,
    );
  });
});

import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { ClientHttp2Session } from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';
import { formatSpiffeId } from '../../core/index.ts';
import type { ErrorBody } from '../../core/index.ts';
import type { MtlsTerminator } from '../helpers/proxy-identity.ts';
import { eventually } from '../helpers/async.ts';
import { TestCa } from '../helpers/test-ca.ts';
import type { TestLeaf } from '../helpers/test-ca.ts';
import { meshRequest } from '../proxy/fixtures/mesh-client.ts';
import { echoRoundTrip, openEcho } from './fixtures/echo.ts';
import { connect, openTunnel } from './fixtures/tunnel-client.ts';
import { TD, peer, service, startDestination, startGateway } from './fixtures/two-zones.ts';
import type { StartedGateway } from './fixtures/two-zones.ts';

const workload = (zone: string, svc: string): string =>
  formatSpiffeId({ kind: 'workload', trustDomain: TD, zone, namespace: 'default', service: svc });
const sni = (svc: string, zone: string): string => `${svc}.default.${zone}.${TD}`;

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The value of one series in a gateway's Prometheus text. */
async function metric(gw: StartedGateway, series: string): Promise<number> {
  const text = await gw.gateway.metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('east-west gateway (two zones, in-process)', function () {
  this.timeout(60_000);
  let ca: TestCa;
  let api: MtlsTerminator;
  let echo: MtlsTerminator;
  let secret: MtlsTerminator;
  let flaky: MtlsTerminator;
  let localEcho: MtlsTerminator;
  let west: StartedGateway;
  let east: StartedGateway;
  let web: TestLeaf;
  let roots: string[];

  before(async () => {
    ca = await TestCa.create();
    roots = [ca.rootPem];
    [api, echo, secret, flaky, localEcho] = await Promise.all([
      startDestination(ca, 'api', 'west'),
      startDestination(ca, 'echo', 'west', 'echo'),
      startDestination(ca, 'secret', 'west'),
      startDestination(ca, 'flaky', 'west', 'echo'),
      startDestination(ca, 'ledger', 'east', 'echo'),
    ]);
    west = await startGateway(ca, {
      zone: 'west',
      name: 'west-gw',
      config: {
        services: [
          service('api', ['east'], [api.port]),
          service('echo', ['*'], [echo.port]),
          service('secret', [], [secret.port]),
          service('billing', ['north'], [secret.port]),
          service('flaky', ['east'], [flaky.port]),
          service('down', ['east'], [secret.port], ['critical']),
          service('gone', ['east'], [await deadPort()]),
        ],
        tunnels: { connectTimeoutMs: 2_000 },
      },
    });
    east = await startGateway(ca, {
      zone: 'east',
      name: 'east-gw',
      config: {
        services: [service('ledger', [], [localEcho.port])],
        peers: [peer('west', 'west-gw', west.publicPort)],
      },
    });
    web = await ca.leaf('web', { zone: 'east' });
  });

  after(async () => {
    await Promise.all([east?.gateway.stop(), west?.gateway.stop()]);
    await Promise.all([api, echo, secret, flaky, localEcho].map((d) => d?.close()));
  });

  it('carries an HTTP call from an east workload to api in west, both identities verified end to end', async () => {
    const before = api.peers.length;
    const body = randomBytes(200_000).toString('hex');
    const res = await meshRequest({
      port: east.localPort,
      leaf: web,
      roots,
      // The client accepts only api's identity in west: the gateways did not terminate TLS.
      server: workload('west', 'api'),
      servername: sni('api', 'west'),
      method: 'POST',
      body,
    });
    expect(res.status).to.equal(200);
    expect(res.body).to.equal(`hello from api in west; ${body.length} bytes received`);
    // ...and api saw the east workload's certificate, not a gateway's.
    expect(api.peers.slice(before).map((p) => p.spiffeId)).to.deep.equal([workload('east', 'web')]);
    const sessions = east.gateway.tunnels().outbound[0]?.sessions ?? [];
    expect(sessions.map((s) => [s.state, s.peer])).to.deep.equal([
      [
        'ready',
        formatSpiffeId({ kind: 'gateway', trustDomain: TD, zone: 'west', name: 'west-gw' }),
      ],
    ]);
    expect(west.gateway.tunnels().inbound.map((s) => s.peer)).to.deep.equal([
      formatSpiffeId({ kind: 'gateway', trustDomain: TD, zone: 'east', name: 'east-gw' }),
    ]);
    expect(
      await metric(east, 'causeway_gateway_connections_total{listener="local",mode="tunnel"}'),
    ).to.be.at.least(1);
    expect(
      await metric(west, 'causeway_gateway_connections_total{listener="public",mode="tunnel"}'),
    ).to.be.at.least(1);
  });

  it('carries raw TCP both ways, a megabyte at a time, with half-close', async () => {
    const socket = await openEcho({
      port: east.localPort,
      leaf: web,
      roots,
      servername: sni('echo', 'west'),
      server: workload('west', 'echo'),
    });
    await echoRoundTrip(socket, randomBytes(1 << 20));
    // Half-close: the client sends its last megabyte and its FIN at once, and still reads
    // the whole answer, which the echo sends after it saw the FIN.
    const last = randomBytes(1 << 20);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const ended = once(socket, 'end');
    socket.end(last);
    await ended;
    expect(Buffer.concat(chunks).equals(last)).to.equal(true);
    expect(echo.peers.at(-1)?.spiffeId).to.equal(workload('east', 'web'));
    // The stream closes with the connection: nothing stays open on either gateway.
    await eventually(
      async () =>
        (await metric(east, 'causeway_gateway_active_streams{direction="outbound"}')) === 0 &&
        (await metric(west, 'causeway_gateway_active_streams{direction="inbound"}')) === 0,
      'the tunnel streams to close',
    );
  });

  it('passes a call for its own zone from the local listener straight to a local instance', async () => {
    const socket = await openEcho({
      port: east.localPort,
      leaf: web,
      roots,
      servername: sni('ledger', 'east'),
      server: workload('east', 'ledger'),
    });
    socket.destroy();
    expect(
      await metric(east, 'causeway_gateway_connections_total{listener="local",mode="passthrough"}'),
    ).to.equal(1);
  });

  it("lets a remote proxy dial the gateway's public port directly (SNI passthrough)", async () => {
    const before = api.peers.length;
    const res = await meshRequest({
      port: west.publicPort,
      leaf: web,
      roots,
      server: workload('west', 'api'),
      servername: sni('api', 'west'),
    });
    expect(res.status).to.equal(200);
    expect(api.peers.slice(before).map((p) => p.spiffeId)).to.deep.equal([workload('east', 'web')]);
    expect(
      await metric(
        west,
        'causeway_gateway_connections_total{listener="public",mode="passthrough"}',
      ),
    ).to.be.at.least(1);
  });

  describe('CONNECT answers (a test client holding the east gateway identity)', () => {
    let session: ClientHttp2Session;

    before(async () => {
      session = await openTunnel(west.publicPort, east.identity, `gateway.west.${TD}`);
    });

    after(() => session?.destroy());

    it('answers 200 and pipes for a service exported to the caller zone', async () => {
      const answer = await connect(session, `${sni('echo', 'west')}:443`);
      expect(answer.status).to.equal(200);
      // What flows is the caller's own TLS; the test sends bytes the echo's TLS stack rejects
      // by closing, which is enough to see the stream reach it.
      answer.stream.end();
      answer.stream.resume();
      await once(answer.stream, 'close');
    });

    it('answers 403 for a service not exported, or not exported to the caller zone', async () => {
      for (const svc of ['secret', 'billing']) {
        const answer = await connect(session, `${sni(svc, 'west')}:443`);
        expect(answer.status, svc).to.equal(403);
        expect(JSON.parse(answer.body)).to.deep.equal({
          error: {
            code: 'CW_ERR_PERMISSION_DENIED',
            message: `default/${svc} is not exported to zone east`,
          },
        });
      }
    });

    it('answers 404 for an unknown service, another zone, or a name outside the mesh', async () => {
      for (const authority of [
        `${sni('nope', 'west')}:443`,
        `${sni('api', 'east')}:443`,
        'example.com:443',
        sni('api', 'west'),
      ]) {
        expect((await connect(session, authority)).status, authority).to.equal(404);
      }
    });

    it('answers 405 for anything but CONNECT', async () => {
      expect((await connect(session, `${sni('api', 'west')}:443`, 'GET')).status).to.equal(405);
    });

    it('answers 503 when no instance is healthy or none can be reached', async () => {
      expect((await connect(session, `${sni('down', 'west')}:443`)).status).to.equal(503);
      const answer = await connect(session, `${sni('gone', 'west')}:443`);
      expect(answer.status).to.equal(503);
      expect(answer.body).to.match(/ECONNREFUSED/);
      expect((JSON.parse(answer.body) as ErrorBody).error.code).to.equal('CW_ERR_UNAVAILABLE');
    });
  });

  it('closes a non-exported service: refused through the tunnel and on direct passthrough', async () => {
    const refusedBefore = await metric(
      west,
      'causeway_gateway_refusals_total{listener="public",reason="not_exported"}',
    );
    for (const port of [east.localPort, west.publicPort]) {
      const outcome = await meshRequest({
        port,
        leaf: web,
        roots,
        servername: sni('secret', 'west'),
      }).then(
        (res) => `answered ${res.status}`,
        (err: Error) => err.message,
      );
      expect(outcome).to.match(/socket disconnected|ECONNRESET|socket hang up/);
    }
    expect(secret.handshakes).to.equal(0);
    expect(
      await metric(
        west,
        'causeway_gateway_refusals_total{listener="public",reason="not_exported"}',
      ),
    ).to.equal(refusedBefore + 2);
    expect(
      await metric(east, 'causeway_gateway_refusals_total{listener="local",reason="not_exported"}'),
    ).to.be.at.least(1);
  });

  it('closes connections whose SNI names nothing it routes', async () => {
    for (const [port, name] of [
      [east.localPort, sni('api', 'north')],
      [east.localPort, 'example.com'],
      [west.publicPort, sni('api', 'east')],
      [west.publicPort, `gateway.east.${TD}`],
    ] as const) {
      const outcome = await meshRequest({ port, leaf: web, roots, servername: name }).then(
        () => 'answered',
        (err: Error) => err.message,
      );
      expect(outcome, `${port} ${name}`).to.match(/socket disconnected|ECONNRESET|socket hang up/);
    }
    expect(
      await metric(east, 'causeway_gateway_refusals_total{listener="local",reason="unknown_zone"}'),
    ).to.equal(1);
    expect(
      await metric(east, 'causeway_gateway_refusals_total{listener="local",reason="unknown_name"}'),
    ).to.equal(1);
  });

  it('answers 503 through the tunnel when the destination dies, and the tunnel stays up', async () => {
    const session = east.gateway.tunnels().outbound[0]!.sessions[0]!;
    const call = (): Promise<tls.TLSSocket> =>
      openEcho({
        port: east.localPort,
        leaf: web,
        roots,
        servername: sni('flaky', 'west'),
        server: workload('west', 'flaky'),
      });
    (await call()).destroy();
    await flaky.close();
    const outcome = await call().then(
      () => 'connected',
      (err: Error) => err.message,
    );
    expect(outcome).to.match(/closed before the TLS handshake|socket disconnected|ECONNRESET/);
    expect(
      await metric(
        east,
        'causeway_gateway_refusals_total{listener="local",reason="no_healthy_endpoint"}',
      ),
    ).to.equal(1);
    // The same session still carries other calls.
    const res = await meshRequest({
      port: east.localPort,
      leaf: web,
      roots,
      server: workload('west', 'api'),
      servername: sni('api', 'west'),
    });
    expect(res.status).to.equal(200);
    const now = east.gateway.tunnels().outbound[0]!.sessions;
    expect(now.map((s) => [s.id, s.state])).to.deep.equal([[session.id, 'ready']]);
  });
});

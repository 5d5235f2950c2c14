import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type tls from 'node:tls';
import { formatSpiffeId } from '../../core/index.ts';
import type { MtlsTerminator } from '../helpers/proxy-identity.ts';
import { TestCa } from '../helpers/test-ca.ts';
import type { TestLeaf } from '../helpers/test-ca.ts';
import { echoRoundTrip, openEcho } from './fixtures/echo.ts';
import { gatewayIdentity } from './fixtures/gateway-certs.ts';
import { ScriptedPeer } from './fixtures/scripted-peer.ts';
import { TD, service, startDestination, startGateway } from './fixtures/two-zones.ts';
import type { StartedGateway } from './fixtures/two-zones.ts';

const workload = (zone: string, svc: string): string =>
  formatSpiffeId({ kind: 'workload', trustDomain: TD, zone, namespace: 'default', service: svc });

const retries = (reason: string): string =>
  `causeway_gateway_tunnel_retries_total{peer_zone="west",reason="${reason}"}`;

/** The value of one series in a gateway's Prometheus text (0 when absent). */
async function metric(gw: StartedGateway, series: string): Promise<number> {
  const text = await gw.gateway.metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** A TCP server that accepts and closes at once: a peer gateway whose sessions fail. */
class ClosingServer {
  connections = 0;
  readonly #server = net.createServer((socket: Socket) => {
    this.connections++;
    socket.on('error', () => undefined);
    socket.destroy();
  });

  static async start(): Promise<ClosingServer> {
    const s = new ClosingServer();
    s.#server.listen(0, '127.0.0.1');
    await once(s.#server, 'listening');
    return s;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

describe('tunnel streams retried on another gateway of the zone', function () {
  this.timeout(60_000);
  let ca: TestCa;
  let echo: MtlsTerminator;
  let web: TestLeaf;
  const cleanup: (() => Promise<void> | void)[] = [];

  /** echo in west: served, with no healthy instance (503), or not exported to east (403). */
  let healthy: Record<string, unknown>;
  let down: Record<string, unknown>;
  let notExported: Record<string, unknown>;

  before(async () => {
    ca = await TestCa.create();
    echo = await startDestination(ca, 'echo', 'west', 'echo');
    web = await ca.leaf('web', { zone: 'east' });
    healthy = service('echo', ['east'], [echo.port]);
    down = service('echo', ['east'], [echo.port], ['critical']);
    notExported = service('echo', ['north'], [echo.port]);
  });

  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  after(async () => {
    await echo?.close();
  });

  async function westGateway(name: string, echoService: Record<string, unknown>) {
    const gw = await startGateway(ca, { zone: 'west', name, config: { services: [echoService] } });
    cleanup.push(() => gw.gateway.stop());
    return gw;
  }

  /** East, peering with west's gateways in this order. */
  async function eastGateway(
    gateways: [name: string, port: number][],
    tunnels: Record<string, unknown> = {},
  ): Promise<StartedGateway> {
    const gw = await startGateway(ca, {
      zone: 'east',
      name: 'east-gw',
      config: {
        peers: [
          {
            zone: 'west',
            gateways: gateways.map(([name, port]) => ({ name, address: '127.0.0.1', port })),
          },
        ],
        tunnels,
      },
    });
    cleanup.push(() => gw.gateway.stop());
    return gw;
  }

  /** web (east) → east's local listener → west's echo, mTLS end to end, one round trip. */
  async function call(east: StartedGateway): Promise<tls.TLSSocket> {
    const socket = await openEcho({
      port: east.localPort,
      leaf: web,
      roots: [ca.rootPem],
      servername: `echo.default.west.${TD}`,
      server: workload('west', 'echo'),
    });
    cleanup.push(() => {
      socket.destroy();
    });
    return socket;
  }

  function refusedCall(east: StartedGateway): Promise<string> {
    return call(east).then(
      () => 'connected',
      (err: Error) => err.message,
    );
  }

  function sessionGateways(east: StartedGateway): string[] {
    const zone = east.gateway.tunnels().outbound.find((p) => p.zone === 'west');
    return (zone?.sessions ?? []).map((s) => s.gateway).sort();
  }

  it('carries the stream through the next gateway when the first answers 503, the inner mTLS intact', async () => {
    const a = await westGateway('west-a', down);
    const b = await westGateway('west-b', healthy);
    const east = await eastGateway([
      ['west-a', a.publicPort],
      ['west-b', b.publicPort],
    ]);
    const handshakes = echo.handshakes;
    const peers = echo.peers.length;
    // The ClientHello the proxy sent once went to west-b only, whole: the handshake
    // verifies both identities over the transcript, and the bytes come back unchanged.
    const socket = await call(east);
    await echoRoundTrip(socket, randomBytes(256 * 1024));
    expect(echo.handshakes - handshakes).to.equal(1);
    expect(echo.peers.slice(peers).map((p) => p.spiffeId)).to.deep.equal([workload('east', 'web')]);
    expect(await metric(east, retries('unavailable'))).to.equal(1);
    expect(
      await metric(
        a,
        'causeway_gateway_refusals_total{listener="public",reason="no_healthy_endpoint"}',
      ),
    ).to.equal(1);
    expect(
      await metric(b, 'causeway_gateway_connections_total{listener="public",mode="tunnel"}'),
    ).to.equal(1);
    expect(sessionGateways(east)).to.deep.equal(['west-a', 'west-b']);
    // The connection the proxy sees is one ordinary tunnelled connection.
    const closed = once(socket, 'close');
    socket.destroy();
    await closed;
  });

  it('does not retry a 403: the service is not exported to our zone, which is final', async () => {
    const a = await westGateway('west-a', notExported);
    const b = await westGateway('west-b', healthy);
    const east = await eastGateway([
      ['west-a', a.publicPort],
      ['west-b', b.publicPort],
    ]);
    const handshakes = echo.handshakes;
    expect(await refusedCall(east)).to.match(
      /closed before the TLS handshake|socket disconnected|ECONNRESET/,
    );
    expect(
      await metric(east, 'causeway_gateway_refusals_total{listener="local",reason="not_exported"}'),
    ).to.equal(1);
    for (const reason of ['unavailable', 'session_failure', 'refused_stream']) {
      expect(await metric(east, retries(reason)), reason).to.equal(0);
    }
    // west-b was never asked: no session to it, no stream.
    expect(sessionGateways(east)).to.deep.equal(['west-a']);
    expect(b.gateway.tunnels().inbound).to.deep.equal([]);
    expect(echo.handshakes).to.equal(handshakes);
  });

  it('tries each gateway once, then fails with the 503 when none carries the stream', async () => {
    const a = await westGateway('west-a', down);
    const b = await westGateway('west-b', down);
    const east = await eastGateway([
      ['west-a', a.publicPort],
      ['west-b', b.publicPort],
    ]);
    expect(await refusedCall(east)).to.match(
      /closed before the TLS handshake|socket disconnected|ECONNRESET/,
    );
    const noHealthy =
      'causeway_gateway_refusals_total{listener="public",reason="no_healthy_endpoint"}';
    expect([await metric(a, noHealthy), await metric(b, noHealthy)]).to.deep.equal([1, 1]);
    expect(await metric(east, retries('unavailable'))).to.equal(1);
    expect(
      await metric(
        east,
        'causeway_gateway_refusals_total{listener="local",reason="no_healthy_endpoint"}',
      ),
    ).to.equal(1);
  });

  it('carries the stream through the next gateway when the first refuses it (REFUSED_STREAM)', async () => {
    const refuser = await ScriptedPeer.start(await gatewayIdentity(ca, 'west', 'west-r'), 'refuse');
    cleanup.push(() => refuser.close());
    const b = await westGateway('west-b', healthy);
    const east = await eastGateway([
      ['west-r', refuser.port],
      ['west-b', b.publicPort],
    ]);
    const socket = await call(east);
    await echoRoundTrip(socket, randomBytes(64 * 1024));
    expect(refuser.streams).to.equal(1);
    expect(await metric(east, retries('refused_stream'))).to.equal(1);
    expect(
      await metric(b, 'causeway_gateway_connections_total{listener="public",mode="tunnel"}'),
    ).to.equal(1);
  });

  it('moves past a gateway whose session fails, and keeps away from it while it is in backoff', async () => {
    const a = await westGateway('west-a', down);
    const dead = await ClosingServer.start();
    cleanup.push(() => dead.close());
    const b = await westGateway('west-b', healthy);
    // One stream per session, so the second call needs a new session for its retry.
    const east = await eastGateway(
      [
        ['west-a', a.publicPort],
        ['west-dead', dead.port],
        ['west-b', b.publicPort],
      ],
      { maxStreamsPerSession: 1 },
    );
    // west-a answers 503; west-dead (next, no sessions yet) fails; west-b carries it.
    const first = await call(east);
    expect(await metric(east, retries('unavailable'))).to.equal(1);
    expect(await metric(east, retries('session_failure'))).to.equal(1);
    expect(dead.connections).to.equal(1);
    const view = east.gateway.tunnels().outbound[0]!;
    expect(view.gateways.find((g) => g.name === 'west-dead')?.failedUntil).to.be.a('string');
    // With the first call holding west-b's only session, west-a answers 503 again and the
    // retry opens a second session to west-b: west-dead, in backoff for 2 s, is skipped.
    const second = await call(east);
    await echoRoundTrip(second, randomBytes(32 * 1024));
    await echoRoundTrip(first);
    expect(await metric(east, retries('unavailable'))).to.equal(2);
    expect(await metric(east, retries('session_failure'))).to.equal(1);
    expect(dead.connections).to.equal(1);
    expect(sessionGateways(east).filter((g) => g === 'west-b')).to.have.length(2);
  });

  it('does not retry on a gateway in backoff: with only that one left, the 503 stands', async () => {
    const a = await westGateway('west-a', down);
    const dead = await ClosingServer.start();
    cleanup.push(() => dead.close());
    const east = await eastGateway([
      ['west-a', a.publicPort],
      ['west-dead', dead.port],
    ]);
    // west-a answers 503, west-dead's session fails: nothing carries the first call.
    expect(await refusedCall(east)).to.match(
      /closed before the TLS handshake|socket disconnected|ECONNRESET/,
    );
    expect(await metric(east, retries('unavailable'))).to.equal(1);
    expect(dead.connections).to.equal(1);
    // The second call's 503 is final at once: west-dead is in backoff (2 s), not retried.
    expect(await refusedCall(east)).to.match(
      /closed before the TLS handshake|socket disconnected|ECONNRESET/,
    );
    const noHealthy =
      'causeway_gateway_refusals_total{listener="public",reason="no_healthy_endpoint"}';
    expect(await metric(a, noHealthy)).to.equal(2);
    expect(await metric(east, retries('unavailable'))).to.equal(1);
    expect(dead.connections).to.equal(1);
    // Each refusal takes the reason of the last gateway tried: west-dead's, then west-a's.
    const local = (reason: string): string =>
      `causeway_gateway_refusals_total{listener="local",reason="${reason}"}`;
    expect([
      await metric(east, local('tunnel_failure')),
      await metric(east, local('no_healthy_endpoint')),
    ]).to.deep.equal([1, 1]);
  });
});

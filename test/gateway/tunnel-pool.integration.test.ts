import { expect } from 'chai';
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';
import { formatSpiffeId } from '../../core/index.ts';
import { GatewayAdminServer } from '../../gateway/index.ts';
import type { TunnelsView } from '../../gateway/index.ts';
import { eventually, raceTimeout } from '../helpers/async.ts';
import type { MtlsTerminator } from '../helpers/proxy-identity.ts';
import { TestCa } from '../helpers/test-ca.ts';
import type { TestLeaf } from '../helpers/test-ca.ts';
import { echoRoundTrip, openEcho } from './fixtures/echo.ts';
import { gatewayIdentity } from './fixtures/gateway-certs.ts';
import {
  Relay,
  TD,
  peer,
  quietLogger,
  service,
  startDestination,
  startGateway,
} from './fixtures/two-zones.ts';
import type { StartedGateway } from './fixtures/two-zones.ts';

const ECHO_ID = formatSpiffeId({
  kind: 'workload',
  trustDomain: TD,
  zone: 'west',
  namespace: 'default',
  service: 'echo',
});

describe('tunnel pool', function () {
  this.timeout(60_000);
  let ca: TestCa;
  let echo: MtlsTerminator;
  let web: TestLeaf;
  const cleanup: (() => Promise<void> | void)[] = [];

  before(async () => {
    ca = await TestCa.create();
    echo = await startDestination(ca, 'echo', 'west', 'echo');
    web = await ca.leaf('web', { zone: 'east' });
  });

  after(async () => {
    await echo?.close();
  });

  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  /** West (serving echo) and east (peering with west, through `via` if given). */
  async function zones(
    options: {
      east?: Record<string, unknown>;
      west?: Record<string, unknown>;
      via?: (westPort: number) => Promise<number>;
      eastPeers?: (westPort: number) => Record<string, unknown>[];
    } = {},
  ): Promise<{ east: StartedGateway; west: StartedGateway }> {
    const west = await startGateway(ca, {
      zone: 'west',
      name: 'west-gw',
      config: { services: [service('echo', ['east'], [echo.port])], tunnels: options.west ?? {} },
    });
    cleanup.push(() => west.gateway.stop());
    const port = options.via ? await options.via(west.publicPort) : west.publicPort;
    const east = await startGateway(ca, {
      zone: 'east',
      name: 'east-gw',
      config: {
        peers: options.eastPeers?.(port) ?? [peer('west', 'west-gw', port)],
        tunnels: options.east ?? {},
      },
    });
    cleanup.push(() => east.gateway.stop());
    return { east, west };
  }

  function call(east: StartedGateway): Promise<tls.TLSSocket> {
    return openEcho({
      port: east.localPort,
      leaf: web,
      roots: [ca.rootPem],
      servername: `echo.default.west.${TD}`,
      server: ECHO_ID,
    }).then((socket) => {
      cleanup.push(() => {
        socket.destroy();
      });
      return socket;
    });
  }

  function sessions(east: StartedGateway) {
    return east.gateway.tunnels().outbound.find((p) => p.zone === 'west')?.sessions ?? [];
  }

  it('carries 20 concurrent connections on one session (as /tunnels shows)', async () => {
    const { east, west } = await zones();
    const admin = new GatewayAdminServer(
      { host: '127.0.0.1', port: 0 },
      {
        readiness: () => east.gateway.readiness(),
        configDump: () => east.gateway.configDump(),
        tunnels: () => east.gateway.tunnels(),
        prometheus: () => Promise.resolve({ contentType: 'text/plain', body: '' }),
        statsJson: () => Promise.resolve([]),
      },
      quietLogger(),
    );
    const stop = new AbortController();
    const running = admin.start(stop.signal);
    cleanup.push(async () => {
      stop.abort();
      await running;
    });
    await admin.ready();
    const sockets = await Promise.all(Array.from({ length: 20 }, () => call(east)));
    const view = (await (
      await fetch(`http://127.0.0.1:${admin.address().port}/tunnels`)
    ).json()) as TunnelsView;
    const west0 = view.outbound.find((p) => p.zone === 'west');
    expect(west0?.sessions.map((s) => [s.state, s.streams])).to.deep.equal([['ready', 20]]);
    expect(west.gateway.tunnels().inbound.map((s) => s.streams)).to.deep.equal([20]);
    // All still usable.
    await Promise.all(sockets.map((s) => echoRoundTrip(s)));
  });

  it('opens a new session only when the others are full: 20 streams at 5 per session → 4', async () => {
    const { east } = await zones({ east: { maxStreamsPerSession: 5 } });
    await Promise.all(Array.from({ length: 20 }, () => call(east)));
    expect(sessions(east).map((s) => s.streams)).to.deep.equal([5, 5, 5, 5]);
  });

  it("respects the peer's SETTINGS_MAX_CONCURRENT_STREAMS when lower than its own limit", async () => {
    const { east } = await zones({ west: { maxStreamsPerSession: 5 } });
    await Promise.all(Array.from({ length: 20 }, () => call(east)));
    const now = sessions(east);
    expect(now.map((s) => s.streams)).to.deep.equal([5, 5, 5, 5]);
    expect(now.map((s) => s.maxStreams)).to.deep.equal([5, 5, 5, 5]);
  });

  it('queues streams when every session is full and no more may open, until one ends', async () => {
    const { east } = await zones({ east: { maxSessionsPerPeer: 1, maxStreamsPerSession: 2 } });
    const [a] = await Promise.all([call(east), call(east)]);
    const third = call(east);
    await eventually(
      () => east.gateway.tunnels().outbound[0]?.queued === 1,
      'the third stream to queue',
    );
    expect((await raceTimeout(third, 300)).timedOut).to.equal(true);
    a.destroy();
    await third;
    expect(sessions(east).map((s) => s.streams)).to.deep.equal([2]);
  });

  it('closes a session idle for idleTimeoutMs and opens a fresh one when needed', async () => {
    const { east, west } = await zones({ east: { idleTimeoutMs: 300 } });
    const socket = await call(east);
    const first = sessions(east)[0]!.id;
    socket.destroy();
    await eventually(() => sessions(east).length === 0, 'the idle session to close');
    await eventually(() => west.gateway.tunnels().inbound.length === 0, 'the peer to see it close');
    await call(east);
    expect(sessions(east).map((s) => s.id)).to.not.include(first);
    expect(sessions(east)).to.have.length(1);
  });

  it('replaces a session that dies under it (connection reset between the gateways)', async () => {
    let relay: Relay | undefined;
    const { east } = await zones({
      via: async (port) => {
        relay = await Relay.start(port);
        cleanup.push(() => relay!.close());
        return relay.port;
      },
    });
    const socket = await call(east);
    const first = sessions(east)[0]!.id;
    const closed = once(socket, 'close');
    relay!.cut();
    // The connection that rode the dead session is closed, not left hanging.
    await closed;
    await eventually(() => sessions(east).length === 0, 'the dead session to go');
    const again = await call(east);
    await echoRoundTrip(again);
    expect(sessions(east).map((s) => s.id)).to.not.include(first);
    expect(relay!.connections).to.equal(2);
  });

  it('skips a peer gateway that cannot be reached and uses the next', async () => {
    const dead = net.createServer().listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const { east } = await zones({
      eastPeers: (port) => [
        {
          zone: 'west',
          gateways: [
            { name: 'west-gone', address: '127.0.0.1', port: deadPort },
            { name: 'west-gw', address: '127.0.0.1', port },
          ],
        },
      ],
    });
    await call(east);
    const view = east.gateway.tunnels().outbound[0]!;
    expect(view.sessions.map((s) => s.gateway)).to.deep.equal(['west-gw']);
    expect(view.gateways.find((g) => g.name === 'west-gone')?.failedUntil).to.be.a('string');
    expect(view.gateways.find((g) => g.name === 'west-gw')?.failedUntil).to.equal(undefined);
  });

  it('after an identity change, open streams finish on the old session and new ones get a new session', async () => {
    const { east } = await zones();
    const old = await call(east);
    const oldSession = sessions(east)[0]!.id;
    east.gateway.updateIdentity(await gatewayIdentity(ca, 'east', 'east-gw'));
    await echoRoundTrip(old);
    const fresh = await call(east);
    await echoRoundTrip(fresh);
    const now = sessions(east);
    expect(now.map((s) => [s.id === oldSession, s.draining])).to.deep.equal([
      [true, true],
      [false, false],
    ]);
    old.destroy();
    await eventually(
      () => sessions(east).every((s) => s.id !== oldSession),
      'the drained session to close',
    );
    await echoRoundTrip(fresh);
  });

  it('moves to a new session when the peer gateway restarts (GOAWAY, then back)', async () => {
    const { east, west } = await zones();
    const socket = await call(east);
    const port = west.publicPort;
    const closed = once(socket, 'close');
    await west.gateway.stop();
    await closed;
    await eventually(() => sessions(east).length === 0, 'the session to close');
    const again = await startGateway(ca, {
      zone: 'west',
      name: 'west-gw',
      identity: west.identity,
      config: { services: [service('echo', ['east'], [echo.port])] },
      publicPort: port,
    });
    cleanup.push(() => again.gateway.stop());
    await echoRoundTrip(await call(east));
  });
});

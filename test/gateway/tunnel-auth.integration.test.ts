import { expect } from 'chai';
import { once } from 'node:events';
import { formatSpiffeId } from '../../core/index.ts';
import { eventually } from '../helpers/async.ts';
import type { MtlsTerminator } from '../helpers/proxy-identity.ts';
import { TestCa } from '../helpers/test-ca.ts';
import type { TestLeaf } from '../helpers/test-ca.ts';
import { echoRoundTrip, openEcho } from './fixtures/echo.ts';
import { gatewayIdentity } from './fixtures/gateway-certs.ts';
import { connect, openTunnel } from './fixtures/tunnel-client.ts';
import { TD, peer, service, startDestination, startGateway } from './fixtures/two-zones.ts';
import type { StartedGateway } from './fixtures/two-zones.ts';

const TUNNEL_SNI = `gateway.west.${TD}`;

async function metric(gw: StartedGateway, series: string): Promise<number> {
  const text = await gw.gateway.metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('tunnel authentication', function () {
  this.timeout(60_000);
  let ca: TestCa;
  let echo: MtlsTerminator;
  let west: StartedGateway;
  let web: TestLeaf;
  const cleanup: (() => Promise<void> | void)[] = [];

  before(async () => {
    ca = await TestCa.create();
    echo = await startDestination(ca, 'echo', 'west', 'echo');
    web = await ca.leaf('web', { zone: 'east' });
  });

  beforeEach(async () => {
    west = await startGateway(ca, {
      zone: 'west',
      name: 'west-gw',
      config: { services: [service('echo', ['*'], [echo.port])] },
    });
    cleanup.push(() => west.gateway.stop());
  });

  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  after(async () => {
    await echo?.close();
  });

  async function refusedTunnel(credentials: Parameters<typeof openTunnel>[1]): Promise<string> {
    return openTunnel(west.publicPort, credentials, TUNNEL_SNI).then(
      async (session) => {
        // TLS 1.3 may let the handshake finish; the refusal is the session going away.
        const outcome = await connect(session, `echo.default.west.${TD}:443`).then(
          (a) => `answered ${a.status}`,
          (err: Error) => err.message,
        );
        session.destroy();
        return outcome;
      },
      (err: Error) => err.message,
    );
  }

  function eastCall(east: StartedGateway) {
    return openEcho({
      port: east.localPort,
      leaf: web,
      roots: [ca.rootPem],
      servername: `echo.default.west.${TD}`,
      server: formatSpiffeId({
        kind: 'workload',
        trustDomain: TD,
        zone: 'west',
        namespace: 'default',
        service: 'echo',
      }),
    });
  }

  async function startEast(peerName = 'west-gw'): Promise<StartedGateway> {
    const east = await startGateway(ca, {
      zone: 'east',
      name: 'east-gw',
      config: {
        peers: [peer('west', peerName, west.publicPort)],
        tunnels: { connectTimeoutMs: 1_000 },
      },
    });
    cleanup.push(() => east.gateway.stop());
    return east;
  }

  it('accepts another zone’s gateway (the control case)', async () => {
    const session = await openTunnel(
      west.publicPort,
      await gatewayIdentity(ca, 'east', 'east-gw'),
      TUNNEL_SNI,
    );
    cleanup.push(() => session.destroy());
    expect((await connect(session, `echo.default.west.${TD}:443`)).status).to.equal(200);
  });

  it('refuses a tunnel from a workload certificate', async () => {
    const outcome = await refusedTunnel({ ...web, roots: [ca.rootPem] });
    expect(outcome).to.not.match(/^answered/);
    expect(
      await metric(
        west,
        'causeway_gateway_refusals_total{listener="public",reason="peer_identity"}',
      ),
    ).to.equal(1);
    expect(west.gateway.tunnels().inbound).to.deep.equal([]);
  });

  it('refuses a tunnel from a gateway of its own zone', async () => {
    const outcome = await refusedTunnel(await gatewayIdentity(ca, 'west', 'west-gw2'));
    expect(outcome).to.not.match(/^answered/);
    expect(
      await metric(
        west,
        'causeway_gateway_refusals_total{listener="public",reason="peer_identity"}',
      ),
    ).to.equal(1);
  });

  it('refuses a gateway certificate from another CA at the TLS handshake', async () => {
    const other = await TestCa.create();
    const outcome = await refusedTunnel({
      ...(await gatewayIdentity(other, 'east', 'east-gw')),
      roots: [ca.rootPem],
    });
    expect(outcome).to.not.match(/^answered/);
    expect(west.gateway.tunnels().inbound).to.deep.equal([]);
  });

  it('refuses a revoked peer gateway, so connections through it are closed', async () => {
    const east = await startEast();
    west.gateway.updateIdentity({ ...west.identity, revokedSerials: [east.identity.serial] });
    const outcome = await eastCall(east).then(
      () => 'connected',
      (err: Error) => err.message,
    );
    expect(outcome).to.not.equal('connected');
    expect(
      await metric(
        west,
        'causeway_gateway_refusals_total{listener="public",reason="peer_identity"}',
      ),
    ).to.be.at.least(1);
    const peerView = east.gateway.tunnels().outbound[0]!;
    expect(peerView.sessions).to.deep.equal([]);
    expect(peerView.gateways[0]?.failedUntil).to.be.a('string');
  });

  it('cuts an established tunnel when the peer gateway is revoked', async () => {
    const east = await startEast();
    const socket = await eastCall(east);
    cleanup.push(() => {
      socket.destroy();
    });
    await echoRoundTrip(socket);
    const closed = once(socket, 'close');
    west.gateway.updateIdentity({ ...west.identity, revokedSerials: [east.identity.serial] });
    await closed;
    await eventually(() => west.gateway.tunnels().inbound.length === 0, 'the session to go');
  });

  it('refuses a peer gateway that is not the one the config names', async () => {
    const east = await startEast('west-other');
    const outcome = await eastCall(east).then(
      () => 'connected',
      (err: Error) => err.message,
    );
    expect(outcome).to.not.equal('connected');
    expect(
      await metric(
        east,
        'causeway_gateway_refusals_total{listener="local",reason="peer_identity"}',
      ),
    ).to.be.at.least(1);
  });

  it('refuses an identity that is not a gateway of its name, keeping the one it has', async () => {
    const before = west.gateway.tls.self()?.spiffeId;
    expect(() =>
      west.gateway.updateIdentity({ ...web, roots: [ca.rootPem], revokedSerials: [] }),
    ).to.throw(/is not a gateway identity/);
    const other = await gatewayIdentity(ca, 'west', 'west-2');
    expect(() => west.gateway.updateIdentity(other)).to.throw(/is not the gateway named west-gw/);
    const wrongZone = await gatewayIdentity(ca, 'east', 'west-gw');
    expect(() => west.gateway.updateIdentity(wrongZone)).to.throw(/is not a gateway of zone west/);
    expect(west.gateway.tls.self()?.spiffeId).to.equal(before);
  });
});

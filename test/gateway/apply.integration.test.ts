import { expect } from 'chai';
import { formatSpiffeId } from '../../core/index.ts';
import type { GatewayConfig } from '../../core/index.ts';
import { eventually } from '../helpers/async.ts';
import type { MtlsTerminator } from '../helpers/proxy-identity.ts';
import { TestCa } from '../helpers/test-ca.ts';
import type { TestLeaf } from '../helpers/test-ca.ts';
import { echoRoundTrip, openEcho } from './fixtures/echo.ts';
import { gatewayIdentity } from './fixtures/gateway-certs.ts';
import { Gateway, GatewayMetrics } from '../../gateway/index.ts';
import {
  TD,
  gatewayConfig,
  quietLogger,
  peer,
  service,
  startDestination,
  startGateway,
} from './fixtures/two-zones.ts';
import type { StartedGateway } from './fixtures/two-zones.ts';

const echoId = (zone: string): string =>
  formatSpiffeId({
    kind: 'workload',
    trustDomain: TD,
    zone,
    namespace: 'default',
    service: 'echo',
  });

describe('Gateway.apply and updateIdentity', function () {
  this.timeout(60_000);
  let ca: TestCa;
  let echo: MtlsTerminator;
  let echo2: MtlsTerminator;
  let west: StartedGateway;
  let east: StartedGateway;
  let web: TestLeaf;
  let westConfig: GatewayConfig;
  let eastConfig: GatewayConfig;

  before(async () => {
    ca = await TestCa.create();
    [echo, echo2] = await Promise.all([
      startDestination(ca, 'echo', 'west', 'echo'),
      startDestination(ca, 'echo', 'west', 'echo'),
    ]);
    web = await ca.leaf('web', { zone: 'east' });
  });

  beforeEach(async () => {
    westConfig = gatewayConfig(ca, 'west', { services: [service('echo', ['east'], [echo.port])] });
    west = await startGateway(ca, { zone: 'west', name: 'west-gw', config: { ...westConfig } });
    eastConfig = gatewayConfig(ca, 'east', { peers: [peer('west', 'west-gw', west.publicPort)] });
    east = await startGateway(ca, { zone: 'east', name: 'east-gw', config: { ...eastConfig } });
  });

  afterEach(async () => {
    await Promise.all([east.gateway.stop(), west.gateway.stop()]);
  });

  after(async () => {
    await Promise.all([echo?.close(), echo2?.close()]);
  });

  const call = () =>
    openEcho({
      port: east.localPort,
      leaf: web,
      roots: [ca.rootPem],
      servername: `echo.default.west.${TD}`,
      server: echoId('west'),
    });
  const refused = () =>
    call().then(
      (s) => {
        s.destroy();
        return false;
      },
      () => true,
    );

  it('stops exporting for new streams while established ones keep flowing', async () => {
    const socket = await call();
    west.gateway.apply({
      ...westConfig,
      services: [{ ...westConfig.services[0]!, exportedTo: [] }],
    });
    await echoRoundTrip(socket);
    expect(await refused()).to.equal(true);
    socket.destroy();
  });

  it('sends new connections to new endpoints, keeping the old ones open', async () => {
    const socket = await call();
    const before = echo2.handshakes;
    west.gateway.apply({
      ...westConfig,
      services: [
        {
          ...westConfig.services[0]!,
          endpoints: [
            { address: '127.0.0.1', port: echo2.port, health: 'passing', instanceId: 'e2' },
          ],
        },
      ],
    });
    const other = await call();
    expect(echo2.handshakes).to.equal(before + 1);
    await echoRoundTrip(socket);
    socket.destroy();
    other.destroy();
  });

  it('drains the tunnels of a zone removed from peers, and refuses new calls there', async () => {
    const socket = await call();
    east.gateway.apply({ ...eastConfig, peers: [] });
    expect(await refused()).to.equal(true);
    await echoRoundTrip(socket);
    socket.destroy();
    await eventually(
      () => west.gateway.tunnels().inbound.length === 0,
      'the drained session to close',
    );
  });

  it('moves a peer zone to another gateway address: old sessions drain, new calls go there', async () => {
    const socket = await call();
    const west2 = await startGateway(ca, {
      zone: 'west',
      name: 'west-gw2',
      config: { ...westConfig },
    });
    try {
      east.gateway.apply({ ...eastConfig, peers: [peer('west', 'west-gw2', west2.publicPort)] });
      (await call()).destroy();
      expect(west2.gateway.tunnels().inbound).to.have.length(1);
      await echoRoundTrip(socket);
      socket.destroy();
      await eventually(() => west.gateway.tunnels().inbound.length === 0, 'the old session to go');
    } finally {
      await west2.gateway.stop();
    }
  });

  it('refuses a config for another zone or trust domain, keeping the one it serves', () => {
    expect(() => east.gateway.apply(gatewayConfig(ca, 'north', {}))).to.throw(/is of zone east/);
    expect(() => east.gateway.apply({ ...eastConfig, trustDomain: 'other.mesh' })).to.throw(
      /trust domain other.mesh/,
    );
    expect(east.gateway.config).to.deep.equal(eastConfig);
  });

  it('cuts its own tunnels when a bundle update revokes the peer gateway', async () => {
    const socket = await call();
    const closed = new Promise((resolve) => socket.once('close', resolve));
    east.gateway.updateIdentity({ ...east.identity, revokedSerials: [west.identity.serial] });
    await closed;
    expect(
      east.gateway.tunnels().outbound[0]?.sessions.filter((s) => s.state === 'ready'),
    ).to.deep.equal([]);
  });

  it('is ready only with an identity, a config and bound listeners', async () => {
    const gateway = new Gateway({
      trustDomain: TD,
      name: 'north-gw',
      publicListen: { host: '127.0.0.1', port: 0 },
      localListen: { host: '127.0.0.1', port: 0 },
      logger: quietLogger(),
      metrics: new GatewayMetrics(),
    });
    try {
      expect(gateway.readiness().reasons).to.deep.equal([
        'no gateway certificate yet',
        'no config yet',
        'listeners not bound',
      ]);
      gateway.updateIdentity(await gatewayIdentity(ca, 'north', 'north-gw'));
      gateway.apply(gatewayConfig(ca, 'north', {}));
      expect(gateway.readiness().reasons).to.deep.equal(['listeners not bound']);
      await gateway.listen();
      expect(gateway.readiness()).to.deep.equal({ ready: true, reasons: [] });
    } finally {
      await gateway.stop();
    }
  });
});

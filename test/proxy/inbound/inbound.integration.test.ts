/**
 * The inbound listener with real certificates: mTLS with leaves from a test CA, TCP and
 * HTTP authorization, forwarding to a local app, policy swaps without dropping
 * connections, rotation for new connections, and revocation closing open ones.
 */
import { once } from 'node:events';
import tls from 'node:tls';
import { expect } from 'chai';
import { pino } from 'pino';
import { formatSpiffeId } from '../../../core/index.ts';
import { TlsIdentity } from '../../../proxy/src/identity/tls-identity.ts';
import type { Inbound } from '../../../proxy/src/inbound/inbound.ts';
import { ProxyMetrics } from '../../../proxy/src/metrics.ts';
import { echoRoundTrip } from '../../helpers/mesh-participant.ts';
import { eventually } from '../../helpers/async.ts';
import { inboundConfig } from '../fixtures/configs.ts';
import { startInbound } from '../fixtures/inbound-fixture.ts';
import { startHttpApp, startTcpEcho } from '../fixtures/local-apps.ts';
import type { HttpApp, TcpApp } from '../fixtures/local-apps.ts';
import { closed, meshConnect, meshRequest } from '../fixtures/mesh-client.ts';
import { TestCa } from '../../helpers/test-ca.ts';
import type { TestLeaf } from '../../helpers/test-ca.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const API = formatSpiffeId({
  kind: 'workload',
  trustDomain: 'causeway.mesh',
  zone: 'test',
  namespace: 'default',
  service: 'api',
});

describe('inbound listener (integration)', function () {
  this.timeout(30_000);
  let ca: TestCa;
  let serverLeaf: TestLeaf;
  let web: TestLeaf;
  let batch: TestLeaf;
  let roots: string[];
  let identity: TlsIdentity;
  let metrics: ProxyMetrics;
  let inbound: Inbound | undefined;
  let httpApp: HttpApp;
  let tcpApp: TcpApp;

  before(async function () {
    ca = await TestCa.create();
    [serverLeaf, web, batch] = await Promise.all([
      ca.leaf('api'),
      ca.leaf('web'),
      ca.leaf('batch'),
    ]);
    roots = [ca.rootPem];
    httpApp = await startHttpApp();
    tcpApp = await startTcpEcho();
  });
  after(async function () {
    await httpApp?.close();
    await tcpApp?.close();
  });

  beforeEach(function () {
    identity = new TlsIdentity({ trustDomain: 'causeway.mesh' });
    identity.update({ ...serverLeaf, roots, revokedSerials: [] });
    metrics = new ProxyMetrics();
  });
  afterEach(async function () {
    await inbound?.close();
    inbound = undefined;
  });

  async function start(app: { port: number }, config = inboundConfig('http')): Promise<number> {
    inbound = await startInbound({
      tls: identity,
      metrics,
      logger,
      drainMs: 2000,
      appPort: app.port,
      config,
    });
    return inbound.port();
  }

  async function counter(name: string, labels: Record<string, string>): Promise<number> {
    const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
    const value = metric?.values.find((v) =>
      Object.entries(labels).every(([k, l]) => v.labels[k] === l),
    );
    return value?.value ?? 0;
  }

  it('forwards an allowed HTTP request to the app with the caller identity and traceparent', async function () {
    const port = await start(httpApp);
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await meshRequest({
      port,
      leaf: web,
      roots,
      server: API,
      method: 'POST',
      path: '/orders?x=1',
      body: 'hello',
      headers: {
        traceparent,
        'x-causeway-source': 'spiffe://forged',
        'content-type': 'text/plain',
      },
    });
    expect(res.status).to.equal(200);
    const seen = JSON.parse(res.body) as {
      method: string;
      url: string;
      body: string;
      headers: Record<string, string>;
    };
    expect(seen).to.deep.include({ method: 'POST', url: '/orders?x=1', body: 'hello' });
    expect(seen.headers['x-causeway-source']).to.equal(web.spiffeId);
    expect(seen.headers.traceparent).to.equal(traceparent);
    expect(
      await counter('causeway_proxy_requests_total', { direction: 'inbound', code_class: '2xx' }),
    ).to.equal(1);
    expect(
      await counter('causeway_proxy_tls_handshakes_total', { direction: 'inbound', outcome: 'ok' }),
    ).to.equal(1);
  });

  it('answers 403 naming the rule or the default, per request, on L7 rules', async function () {
    const port = await start(
      httpApp,
      inboundConfig('http', {
        defaultAction: 'deny',
        rules: [
          { action: 'deny', source: { service: 'web' }, http: [{ pathPrefix: '/admin' }] },
          { action: 'allow', source: { service: 'web' }, http: [{ methods: ['GET'] }] },
        ],
      }),
    );
    const call = (leaf: TestLeaf, path: string, method = 'GET') =>
      meshRequest({ port, leaf, roots, server: API, path, method });
    expect((await call(web, '/users')).status).to.equal(200);
    const admin = await call(web, '/admin/keys');
    expect(admin.status).to.equal(403);
    expect(JSON.parse(admin.body)).to.deep.equal({
      error: {
        code: 'CW_ERR_PERMISSION_DENIED',
        message: `${web.spiffeId} may not GET /admin/keys: rule 0 (deny)`,
      },
    });
    expect((await call(web, '/users', 'DELETE')).body).to.contain('default (deny)');
    expect((await call(batch, '/users')).status).to.equal(403);
    expect(await counter('causeway_proxy_authz_denied_total', { source_service: 'web' })).to.equal(
      2,
    );
    expect(
      await counter('causeway_proxy_authz_denied_total', { source_service: 'batch' }),
    ).to.equal(1);
  });

  it('answers 503 when the app is not listening', async function () {
    const port = await start({ port: 1 });
    const res = await meshRequest({ port, leaf: web, roots, server: API });
    expect(res.status).to.equal(503);
    expect(res.body).to.match(/upstream connect error/);
  });

  it('splices TCP for allowed callers and closes denied ones before reading a byte', async function () {
    const port = await start(
      tcpApp,
      inboundConfig('tcp', {
        defaultAction: 'deny',
        rules: [{ action: 'allow', source: { service: 'web' } }],
      }),
    );
    const ok = await meshConnect({ port, leaf: web, roots, server: API });
    await echoRoundTrip(ok, 'ping');
    ok.destroy();
    const before = tcpApp.connections;
    const denied = await meshConnect({ port, leaf: batch, roots, server: API });
    denied.write('should never reach the app');
    await closed(denied);
    expect(tcpApp.connections).to.equal(before);
    expect(
      await counter('causeway_proxy_authz_denied_total', { source_service: 'batch' }),
    ).to.equal(1);
  });

  it('refuses a client whose chain another CA signed', async function () {
    const port = await start(httpApp);
    const other = await TestCa.create();
    const stranger = await other.leaf('web');
    const refused = await meshRequest({ port, leaf: stranger, roots, server: API }).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(refused).to.be.instanceOf(Error);
    await eventually(
      async () => (await counter('causeway_proxy_tls_handshakes_total', { outcome: 'error' })) >= 1,
      'the failed handshake to be counted',
    );
  });

  it('swaps the policy without dropping an established connection', async function () {
    const port = await start(tcpApp, inboundConfig('tcp'));
    const socket = await meshConnect({ port, leaf: web, roots, server: API });
    await echoRoundTrip(socket, 'before');
    await inbound!.apply(inboundConfig('tcp', { defaultAction: 'deny' }));
    await echoRoundTrip(socket, 'after');
    const late = await meshConnect({ port, leaf: web, roots, server: API });
    await closed(late);
    socket.destroy();
  });

  it('serves a renewed leaf to new connections, with or without SNI, and keeps old ones', async function () {
    const port = await start(tcpApp, inboundConfig('tcp'));
    const old = await meshConnect({ port, leaf: web, roots, server: API });
    await echoRoundTrip(old, 'x');
    const renewed = await ca.leaf('api');
    identity.update({ ...renewed, roots, revokedSerials: [] });
    for (const servername of [undefined, 'api.default.test.causeway.mesh']) {
      const fresh = await meshConnect({ port, leaf: web, roots, server: API, servername });
      expect(fresh.getPeerCertificate().serialNumber.toLowerCase().replace(/^0+/, '')).to.equal(
        renewed.serial,
      );
      await echoRoundTrip(fresh, 'y');
      fresh.destroy();
    }
    await echoRoundTrip(old, 'still here');
    old.destroy();
  });

  it('closes an open connection when the peer leaf is revoked', async function () {
    const port = await start(tcpApp, inboundConfig('tcp'));
    const [victim, bystander] = await Promise.all([
      meshConnect({ port, leaf: web, roots, server: API }),
      meshConnect({ port, leaf: batch, roots, server: API }),
    ]);
    await echoRoundTrip(victim, 'a');
    await echoRoundTrip(bystander, 'b');
    identity.update({ ...serverLeaf, roots, revokedSerials: [web.serial] });
    await closed(victim);
    await echoRoundTrip(bystander, 'c');
    bystander.destroy();
    // And the revoked leaf cannot come back.
    const again = await meshConnect({ port, leaf: web, roots, server: API });
    await closed(again);
  });

  it('lets an in-flight request finish when closing, and accepts nothing new', async function () {
    const port = await start(httpApp);
    const inFlight = meshRequest({ port, leaf: web, roots, server: API, path: '/slow/300' });
    await eventually(
      () => httpApp.seen.some((r) => r.url === '/slow/300'),
      'the request to reach the app',
    );
    const closing = inbound!.close();
    const res = await inFlight;
    expect(res.status).to.equal(200);
    await closing;
    const late = await meshRequest({ port, leaf: web, roots, server: API }).catch(
      (err: Error) => err,
    );
    expect(late).to.be.instanceOf(Error);
  });

  it('resumes TLS sessions, with or without SNI, across a renewal', async function () {
    const port = await start(tcpApp, inboundConfig('tcp'));
    for (const servername of [undefined, 'api.default.test.causeway.mesh']) {
      let session: Buffer | undefined;
      const connect = async () => {
        const socket = tls.connect({
          host: '127.0.0.1',
          port,
          key: web.keyPem,
          cert: web.chainPem,
          ca: roots,
          servername,
          session,
          checkServerIdentity: () => undefined,
        });
        socket.on('session', (s: Buffer) => (session = s));
        await once(socket, 'secureConnect');
        await echoRoundTrip(socket, 'x');
        const resumed = socket.isSessionReused();
        socket.destroy();
        return resumed;
      };
      expect(await connect()).to.equal(false);
      expect(await connect()).to.equal(true);
      identity.update({ ...(await ca.leaf('api')), roots, revokedSerials: [] });
      await connect();
      expect(await connect()).to.equal(true);
    }
    expect(
      await counter('causeway_proxy_tls_handshakes_total', { outcome: 'ok', resumed: 'true' }),
    ).to.be.at.least(4);
  });
});

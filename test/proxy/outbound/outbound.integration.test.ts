import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import { expect } from 'chai';
import { eventually } from '../../helpers/async.ts';
import { MtlsTerminator } from '../../helpers/proxy-identity.ts';
import { TestCa, serialOf } from '../../helpers/test-ca.ts';
import { OutboundFixture, scriptedApp } from './outbound-fixture.ts';

const { endpoint, simple } = OutboundFixture;

describe('Outbound (HTTP and TCP over mTLS)', function () {
  let f: OutboundFixture;

  beforeEach(async function () {
    f = await OutboundFixture.create();
  });

  afterEach(async function () {
    await f.close();
  });

  it('proxies an HTTP request over mTLS, proves both identities and propagates traceparent', async function () {
    let seen: Record<string, string | string[] | undefined> = {};
    const backend = await f.backend((req, res) => {
      seen = req.headers;
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.writeHead(201, { 'x-upstream': 'yes', connection: 'keep-alive' });
        res.end(`${req.method} ${req.url} ${body}`);
      });
    });
    await f.outbound.apply(simple([endpoint(backend)]));
    const incoming = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const reply = await f.call('/items?x=1', {
      method: 'POST',
      body: 'hello',
      headers: { traceparent: incoming, 'x-app': 'a', 'proxy-connection': 'keep-alive' },
    });
    expect(reply.status).to.equal(201);
    expect(reply.body).to.equal('POST /items?x=1 hello');
    expect(reply.headers['x-upstream']).to.equal('yes');
    expect(seen['x-app']).to.equal('a');
    expect(seen['proxy-connection']).to.equal(undefined);
    const tp = String(seen.traceparent);
    expect(tp).to.match(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(tp.slice(36, 52)).not.to.equal('b7ad6b7169203331');
    expect(backend.peers.map((p) => p.spiffeId)).to.deep.equal([
      'spiffe://causeway.mesh/zone/test/ns/default/svc/web',
    ]);
    // A request without traceparent starts a trace.
    await f.call('/');
    expect(String(seen.traceparent)).to.match(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(
      await f.counter('requests', {
        direction: 'outbound',
        listener: 'backend',
        cluster: 'backend',
        code_class: '2xx',
      }),
    ).to.equal(2);
    const access = f.logLines.filter((l) => l.msg === 'outbound request');
    expect(access[0]).to.include({
      listener: 'backend',
      cluster: 'backend',
      status: 201,
      retries: 0,
    });
    expect(access[0]?.endpoint).to.equal(`127.0.0.1:${backend.port}`);
  });

  it('proxies a TCP connection over mTLS, bytes both ways', async function () {
    const echo = await f.backend();
    await f.outbound.apply(simple([endpoint(echo)], {}, {}, 'tcp'));
    const socket = connect(f.port(), '127.0.0.1');
    await once(socket, 'connect');
    socket.write('ping over mesh');
    const [data] = (await once(socket, 'data')) as [Buffer];
    expect(data.toString()).to.equal('ping over mesh');
    socket.end();
    await once(socket, 'close');
    await eventually(
      async () => (await f.counter('requests', { listener: 'backend', code_class: 'ok' })) === 1,
      'the TCP connection to be counted',
    );
    expect(echo.peers[0]?.service).to.equal('web');
  });

  it('refuses a destination with the wrong identity and counts a connect failure', async function () {
    const impostor = await f.backend(scriptedApp([200]), { service: 'payments' });
    await f.outbound.apply(simple([endpoint(impostor)]));
    const reply = await f.call('/');
    expect(reply.status).to.equal(503);
    expect(reply.body).to.match(/upstream connect error.*is not default\/backend/);
    expect(
      await f.counter('tlsHandshakes', { direction: 'outbound', outcome: 'refused' }),
    ).to.equal(3);
    const [status] = f.outbound.clusters();
    expect(status?.endpoints[0]?.failures).to.equal(3);
    expect(await f.counter('retries', { cluster: 'backend', reason: 'connect-failure' })).to.equal(
      2,
    );
  });

  it('refuses a destination whose chain is not from our trust bundle', async function () {
    const other = await TestCa.create();
    const stranger = await MtlsTerminator.start({
      identity: await other.tlsIdentity({ service: 'backend' }, [f.ca.rootPem]),
      app: scriptedApp([200]),
    });
    f.terminators.push(stranger);
    await f.outbound.apply(simple([endpoint(stranger)], {}, { retry: { numRetries: 0 } }));
    const reply = await f.call('/');
    expect(reply.status).to.equal(503);
    expect(reply.body).to.match(/upstream connect error/);
    expect(stranger.peers).to.have.length(0);
    expect(await f.counter('tlsHandshakes', { direction: 'outbound', outcome: 'error' })).to.equal(
      1,
    );
  });

  it('retries a TCP connect failure on another endpoint', async function () {
    const echo = await f.backend();
    const dead = await f.backend();
    const deadEndpoint = endpoint(dead);
    await dead.close();
    await f.outbound.apply(
      simple([deadEndpoint, endpoint(echo)], {}, { retry: { numRetries: 1 } }, 'tcp'),
    );
    for (let i = 0; i < 2; i++) {
      const socket = connect(f.port(), '127.0.0.1');
      await once(socket, 'connect');
      socket.write(`hello ${i}`);
      const [data] = (await once(socket, 'data')) as [Buffer];
      expect(data.toString()).to.equal(`hello ${i}`);
      socket.end();
      await once(socket, 'close');
    }
    expect(
      await f.counter('retries', { cluster: 'backend', reason: 'connect-failure' }),
    ).to.be.at.least(1);
    expect(echo.peers).to.have.length(2);
  });

  it('refuses a TCP destination with the wrong identity and closes the app connection', async function () {
    const impostor = await f.backend(undefined, { service: 'payments' });
    await f.outbound.apply(simple([endpoint(impostor)], {}, { retry: { numRetries: 0 } }, 'tcp'));
    const socket = connect(f.port(), '127.0.0.1');
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.on('error', () => undefined);
    socket.write('x');
    await closed;
    expect(await f.counter('requests', { listener: 'backend', code_class: 'error' })).to.equal(1);
    expect(impostor.peers).to.have.length(0);
  });

  it('reuses pooled connections and resumes TLS sessions for new ones', async function () {
    const backend = await f.backend(scriptedApp([200]));
    await f.outbound.apply(simple([endpoint(backend)]));
    for (let i = 0; i < 10; i++) expect((await f.call('/')).status).to.equal(200);
    expect(backend.handshakes).to.equal(1);
    backend.dropConnections();
    await eventually(() => f.outbound.clusters()[0]?.connections === 0, 'the pool to notice');
    expect((await f.call('/')).status).to.equal(200);
    expect(backend.handshakes).to.equal(2);
    expect(backend.resumed).to.equal(1);
    expect(
      await f.counter('tlsHandshakes', { direction: 'outbound', outcome: 'ok', resumed: 'true' }),
    ).to.equal(1);
    expect(
      await f.counter('tlsHandshakes', { direction: 'outbound', outcome: 'ok', resumed: 'false' }),
    ).to.equal(1);
  });

  it('after a rotation, requests go over new connections with the new leaf; the old ones are not reused', async function () {
    const backend = await f.backend(scriptedApp([200]));
    await f.outbound.apply(simple([endpoint(backend)]));
    expect((await f.call('/')).status).to.equal(200);
    const rotated = await f.ca.identity({ service: 'web' });
    f.identity.update(rotated);
    // The pooled connection was opened with the old leaf, which the peer will refuse once
    // its root leaves the bundle: the next request gets a new connection instead.
    expect((await f.call('/')).status).to.equal(200);
    // A full handshake (no resumption across contexts) with the new leaf.
    expect(backend.handshakes).to.equal(2);
    expect(backend.resumed).to.equal(0);
    expect(backend.serials[0]).not.to.equal(backend.serials[1]);
    expect(backend.serials[1]).to.equal(serialOf(rotated.certificatePem));
    // And that connection is pooled as usual.
    expect((await f.call('/')).status).to.equal(200);
    expect(backend.handshakes).to.equal(2);
  });

  it('keeps the old listener serving when a new listener cannot bind', async function () {
    const backend = await f.backend(scriptedApp([200]));
    await f.outbound.apply(simple([endpoint(backend)]));
    const before = f.port();
    const blocker: Server = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const taken = (blocker.address() as { port: number }).port;
    try {
      const config = OutboundFixture.config(
        [
          { name: 'backend', routes: [{ match: {}, destinations: [{ cluster: 'backend' }] }] },
          { name: 'other', routes: [{ match: {}, destinations: [{ cluster: 'backend' }] }] },
        ],
        [{ name: 'backend', endpoints: [endpoint(backend)] }],
        [0, taken],
      );
      let error: unknown;
      await f.outbound.apply(config).catch((err: unknown) => (error = err));
      expect(error).to.be.instanceOf(Error);
      expect((error as { field?: string }).field).to.equal('outbound[1].port');
      expect(String(error)).to.match(/listener other cannot bind/);
      expect(f.outbound.listenerPorts()).to.deep.equal({ backend: before });
      expect((await f.call('/')).status).to.equal(200);
    } finally {
      blocker.close();
    }
  });

  it('moves a listener to a new port, closing the old one, and keeps endpoint state', async function () {
    const backend = await f.backend(scriptedApp([200]));
    await f.outbound.apply(simple([endpoint(backend)]));
    expect((await f.call('/')).status).to.equal(200);
    const old = f.port();
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const free = (blocker.address() as { port: number }).port;
    await new Promise((resolve) => blocker.close(resolve));
    const config = simple([endpoint(backend)]);
    (config.outbound[0] as { port: number }).port = free;
    await f.outbound.apply(config);
    expect(f.port()).to.equal(free);
    expect((await f.call('/')).status).to.equal(200);
    expect(f.outbound.clusters()[0]?.endpoints[0]?.requests).to.equal(2);
    await eventually(
      () =>
        new Promise<boolean>((resolve) => {
          const s = connect(old, '127.0.0.1');
          s.on('error', () => resolve(true));
          s.on('connect', () => {
            s.destroy();
            resolve(false);
          });
        }),
      'the old port to close',
    );
  });
});

describe('Outbound under change', function () {
  let f: OutboundFixture;

  beforeEach(async function () {
    f = await OutboundFixture.create();
  });

  afterEach(async function () {
    await f.close();
  });

  it('updates a cluster in place: endpoint state survives, removed endpoints stop getting traffic', async function () {
    const appA = scriptedApp([200]);
    const appB = scriptedApp([200]);
    const a = await f.backend(appA);
    const b = await f.backend(appB);
    await f.outbound.apply(simple([endpoint(a), endpoint(b)]));
    for (let i = 0; i < 4; i++) await f.call('/');
    expect([appA.hits, appB.hits]).to.deep.equal([2, 2]);
    await f.outbound.apply(simple([endpoint(a, { weight: 3 })]));
    for (let i = 0; i < 4; i++) await f.call('/');
    expect([appA.hits, appB.hits]).to.deep.equal([6, 2]);
    const [status] = f.outbound.clusters();
    expect(status?.endpoints).to.have.length(1);
    expect(status?.endpoints[0]).to.include({ requests: 6, weight: 3 });
    // The removed endpoint's pooled connection was closed.
    await eventually(() => b.connections === 0, 'the removed endpoint to be disconnected');
    // Still one handshake with a: its pool survived the update.
    expect(a.handshakes).to.equal(1);
  });

  it('drops no request while the certificate rotates under load', async function () {
    // Every response closes its connection, so requests keep opening connections (full
    // or resumed handshakes) while the leaf changes underneath them.
    const backend = await f.backend((req, res) => {
      req.resume();
      res.writeHead(200, { connection: 'close' });
      res.end('ok');
    });
    await f.outbound.apply(simple([endpoint(backend)], {}, { retry: { numRetries: 0 } }));
    let stop = false;
    const statuses: number[] = [];
    const worker = async () => {
      while (!stop) {
        const r = await f.call('/');
        statuses.push(r.status);
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 60));
      f.identity.update(await f.ca.identity({ service: 'web' }));
    }
    await new Promise((resolve) => setTimeout(resolve, 60));
    stop = true;
    await Promise.all(workers);
    expect(statuses.length).to.be.greaterThan(20);
    expect(statuses.filter((s) => s !== 200)).to.deep.equal([]);
    // Connections after each rotation presented the new leaf.
    expect(new Set(backend.serials).size).to.equal(6);
  });
});

import { createServer } from 'node:net';
import { expect } from 'chai';
import { eventually } from '../../helpers/async.ts';
import { OutboundFixture, scriptedApp } from './outbound-fixture.ts';

const { endpoint, simple } = OutboundFixture;

describe('Outbound resilience (retries, budget, circuit breaking, outlier detection, timeouts)', function () {
  let f: OutboundFixture;

  beforeEach(async function () {
    f = await OutboundFixture.create();
  });

  afterEach(async function () {
    await f.close();
  });

  it('retries recover a failing endpoint: 500 then OK', async function () {
    const app = scriptedApp([500, 200]);
    const backend = await f.backend(app);
    await f.outbound.apply(simple([endpoint(backend)]));
    const reply = await f.call('/');
    expect(reply.status).to.equal(200);
    expect(app.hits).to.equal(2);
    expect(await f.counter('retries', { cluster: 'backend', reason: '500' })).to.equal(1);
    const access = f.logLines.find((l) => l.msg === 'outbound request');
    expect(access).to.include({ status: 200, retries: 1 });
  });

  it('retries on another endpoint when there is one', async function () {
    const bad = scriptedApp([503]);
    const good = scriptedApp([200]);
    const a = await f.backend(bad);
    const b = await f.backend(good);
    await f.outbound.apply(simple([endpoint(a), endpoint(b)], {}, { retry: { numRetries: 1 } }));
    for (let i = 0; i < 6; i++) expect((await f.call('/')).status).to.equal(200);
    // Every request that hit `a` first was retried on `b`, never on `a` again.
    expect(good.hits).to.equal(6);
    expect(bad.hits).to.be.greaterThan(0);
    expect(await f.counter('retries', { cluster: 'backend', reason: '503' })).to.equal(bad.hits);
  });

  it('does not retry a POST on 500 by default, but does when idempotentOnly is off', async function () {
    const app = scriptedApp([500, 200]);
    const backend = await f.backend(app);
    await f.outbound.apply(simple([endpoint(backend)]));
    expect((await f.call('/', { method: 'POST', body: 'x' })).status).to.equal(500);
    expect(app.hits).to.equal(1);
    await f.outbound.apply(simple([endpoint(backend)], {}, { retry: { idempotentOnly: false } }));
    app.hits = 0;
    expect((await f.call('/', { method: 'POST', body: 'x' })).status).to.equal(200);
    expect(app.hits).to.equal(2);
  });

  it('retries a POST after a connect failure, resending its buffered body', async function () {
    const bodies: string[] = [];
    const good = await f.backend((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(body);
        res.end('ok');
      });
    });
    const dead = await f.backend(scriptedApp([200]));
    const deadEndpoint = endpoint(dead);
    await dead.close();
    await f.outbound.apply(
      simple(
        [deadEndpoint, endpoint(good)],
        { lb: { policy: 'round_robin' } },
        { retry: { numRetries: 1 } },
      ),
    );
    for (let i = 0; i < 2; i++) {
      expect((await f.call('/', { method: 'POST', body: `payload-${i}` })).status).to.equal(200);
    }
    expect(bodies).to.deep.equal(['payload-0', 'payload-1']);
    expect(
      await f.counter('retries', { cluster: 'backend', reason: 'connect-failure' }),
    ).to.be.greaterThan(0);
  });

  it('streams a body larger than 64 KiB and does not retry it after a 500', async function () {
    let received = 0;
    const app = ((req, res) => {
      req.on('data', (c: Buffer) => (received += c.length));
      req.on('end', () => {
        res.writeHead(500);
        res.end();
      });
    }) as Parameters<typeof f.backend>[0];
    const backend = await f.backend(app);
    await f.outbound.apply(simple([endpoint(backend)], {}, { retry: { idempotentOnly: false } }));
    const body = Buffer.alloc(200 * 1024, 7);
    expect((await f.call('/', { method: 'PUT', body })).status).to.equal(500);
    expect(received).to.equal(body.length);
    expect(await f.counter('retries', { cluster: 'backend' })).to.equal(0);
  });

  it('skips retries the budget does not allow, and counts them', async function () {
    const app = scriptedApp([500]);
    const backend = await f.backend(app);
    await f.outbound.apply(
      simple([endpoint(backend)], {}, { retry: { budgetPercent: 0, minRetryConcurrency: 0 } }),
    );
    expect((await f.call('/')).status).to.equal(500);
    expect(app.hits).to.equal(1);
    expect(await f.counter('retriesSkipped', { cluster: 'backend' })).to.equal(1);
  });

  it('limits retries in flight to the budget under concurrency', async function () {
    const app = scriptedApp([500], 150);
    const backend = await f.backend(app);
    await f.outbound.apply(
      simple(
        [endpoint(backend)],
        { outlier: { consecutive5xx: 0 } },
        { retry: { numRetries: 3, budgetPercent: 0, minRetryConcurrency: 1 } },
      ),
    );
    const replies = await Promise.all(Array.from({ length: 6 }, () => f.call('/')));
    expect(replies.every((r) => r.status === 500)).to.equal(true);
    const retries = await f.counter('retries', { cluster: 'backend' });
    const skipped = await f.counter('retriesSkipped', { cluster: 'backend' });
    expect(skipped).to.be.greaterThan(0);
    // Without a budget this would be 6 × 4 attempts.
    expect(app.hits).to.equal(6 + retries);
    expect(app.hits).to.be.lessThan(24);
  });

  it('answers 503 with x-causeway-overflow when max requests is reached', async function () {
    const app = scriptedApp([200], 300);
    const backend = await f.backend(app);
    await f.outbound.apply(simple([endpoint(backend)], { limits: { maxRequests: 1 } }));
    const [a, b] = await Promise.all([f.call('/'), f.call('/')]);
    const statuses = [a?.status, b?.status].sort();
    expect(statuses).to.deep.equal([200, 503]);
    const overflowed = a?.status === 503 ? a : b;
    expect(overflowed?.headers['x-causeway-overflow']).to.equal('max_requests');
    expect(await f.counter('overflows', { cluster: 'backend', limit: 'max_requests' })).to.equal(1);
    expect(app.hits).to.equal(1);
  });

  it('answers 503 max_connections when the connection limit is reached', async function () {
    const backend = await f.backend(scriptedApp([200], 300));
    await f.outbound.apply(
      simple([endpoint(backend)], { limits: { maxConnections: 1 } }, { retry: { numRetries: 0 } }),
    );
    const replies = await Promise.all([f.call('/'), f.call('/')]);
    const overflowed = replies.find((r) => r.status === 503);
    expect(overflowed?.headers['x-causeway-overflow']).to.equal('max_connections');
    expect(replies.filter((r) => r.status === 200)).to.have.length(1);
    // Counted once, where the 503 is answered.
    expect(await f.counter('overflows', { cluster: 'backend', limit: 'max_connections' })).to.equal(
      1,
    );
  });

  it('ejects an endpoint after 5 consecutive 5xx and returns it after the ejection time', async function () {
    const bad = scriptedApp([500]);
    const good = scriptedApp([200]);
    const a = await f.backend(bad);
    const b = await f.backend(good);
    await f.outbound.apply(
      simple(
        [endpoint(a), endpoint(b)],
        { outlier: { baseEjectionMs: 1500, maxEjectionPercent: 50 } },
        { retry: { numRetries: 0 } },
      ),
    );
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await f.call('/')).status);
    expect(bad.hits).to.equal(5);
    expect(statuses.filter((s) => s === 500)).to.have.length(5);
    expect(statuses.slice(-10).every((s) => s === 200)).to.equal(true);
    expect(
      await f.counter('ejections', { cluster: 'backend', reason: 'consecutive_5xx' }),
    ).to.equal(1);
    expect(await f.counter('ejectedEndpoints', { cluster: 'backend' })).to.equal(1);
    const ejected = f.outbound.clusters()[0]?.endpoints.find((e) => e.port === a.port);
    expect(ejected?.ejected).to.equal(true);
    await eventually(
      () => f.outbound.clusters()[0]?.endpoints.find((e) => e.port === a.port)?.ejected === false,
      'the endpoint to return',
    );
    expect(await f.counter('ejectedEndpoints', { cluster: 'backend' })).to.equal(0);
    for (let i = 0; i < 4; i++) await f.call('/');
    expect(bad.hits).to.be.greaterThan(5);
  });

  it('ejects after consecutive connect failures', async function () {
    const good = await f.backend(scriptedApp([200]));
    const dead = await f.backend(scriptedApp([200]));
    const deadEndpoint = endpoint(dead);
    await dead.close();
    await f.outbound.apply(
      simple(
        [deadEndpoint, endpoint(good)],
        { outlier: { consecutiveConnectFailures: 2, maxEjectionPercent: 50 } },
        { retry: { numRetries: 1 } },
      ),
    );
    for (let i = 0; i < 8; i++) expect((await f.call('/')).status).to.equal(200);
    expect(
      await f.counter('ejections', { cluster: 'backend', reason: 'consecutive_connect_failures' }),
    ).to.equal(1);
  });

  it('never ejects more than maxEjectionPercent, but always allows one', async function () {
    const apps = [scriptedApp([500]), scriptedApp([500]), scriptedApp([500])];
    const backends = await Promise.all(apps.map((app) => f.backend(app)));
    await f.outbound.apply(
      simple(
        backends.map((b) => endpoint(b)),
        { outlier: { consecutive5xx: 2, maxEjectionPercent: 10 } },
        { retry: { numRetries: 0 } },
      ),
    );
    for (let i = 0; i < 30; i++) await f.call('/');
    const status = f.outbound.clusters()[0];
    expect(status?.endpoints.filter((e) => e.ejected)).to.have.length(1);
    expect(await f.counter('ejections', { cluster: 'backend' })).to.equal(1);
  });

  it('answers 504 when the route timeout passes, retries included', async function () {
    const app = scriptedApp([200], 2000);
    const backend = await f.backend(app);
    await f.outbound.apply(simple([endpoint(backend)], {}, { timeoutMs: 200 }));
    const started = Date.now();
    const reply = await f.call('/');
    expect(reply.status).to.equal(504);
    expect(reply.body).to.equal('upstream request timeout');
    expect(Date.now() - started).to.be.lessThan(1900);
    await eventually(() => f.outbound.clusters()[0]?.activeRequests === 0, 'the request to end');
  });

  it('times out connecting and counts it as a connect failure', async function () {
    // A listener that never completes a TLS handshake.
    const silent = createServer(() => undefined);
    silent.listen(0, '127.0.0.1');
    await new Promise((resolve) => silent.once('listening', resolve));
    try {
      const port = (silent.address() as { port: number }).port;
      await f.outbound.apply(
        simple(
          [{ address: '127.0.0.1', port, zone: 'test', instanceId: 'silent' }],
          { connectTimeoutMs: 100 },
          { retry: { numRetries: 0 } },
        ),
      );
      const reply = await f.call('/');
      expect(reply.status).to.equal(503);
      expect(reply.body).to.match(/connect timeout after 100 ms/);
    } finally {
      silent.close();
    }
  });
});

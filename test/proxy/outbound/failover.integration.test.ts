/**
 * Locality failover end to end through real mTLS destinations: retries that leave a used-up
 * or unreachable priority level for the next, ejections that move the load at once, and
 * weights spreading traffic across endpoints (zones) at one priority.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import type { IncomingMessage, RequestListener } from 'node:http';
import { expect } from 'chai';
import { eventually } from '../../helpers/async.ts';
import { OutboundFixture, scriptedApp } from './outbound-fixture.ts';

const { endpoint, simple } = OutboundFixture;

/** An app that cuts the connection on every request, counting them. */
function resettingApp(): RequestListener & { hits: number } {
  const app = Object.assign(
    (req: IncomingMessage) => {
      app.hits++;
      req.socket.destroy();
    },
    { hits: 0 },
  );
  return app;
}

/** One TCP round trip through the outbound listener. */
async function echoThrough(port: number, text: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(text);
  const [data] = (await once(socket, 'data')) as [Buffer];
  socket.end();
  await once(socket, 'close');
  return data.toString();
}

describe('Outbound locality failover (priorities, retries to the next level, weights)', function () {
  let f: OutboundFixture;

  beforeEach(async function () {
    f = await OutboundFixture.create();
  });

  afterEach(async function () {
    await f.close();
  });

  it('a 503 from the only local endpoint is retried on the next priority: no request fails', async function () {
    const local = scriptedApp([503]);
    const remote = scriptedApp([200]);
    const l = await f.backend(local);
    const r = await f.backend(remote);
    await f.outbound.apply(
      simple(
        [endpoint(l), endpoint(r, { priority: 1, zone: 'west' })],
        // No ejection: every request must start on P0 and reach P1 only by its retry.
        { outlier: { consecutive5xx: 0 } },
        { retry: { numRetries: 1 } },
      ),
    );
    const n = 20;
    for (let i = 0; i < n; i++) expect((await f.call('/')).status).to.equal(200);
    expect(local.hits).to.equal(n);
    expect(remote.hits).to.equal(n);
    expect(await f.counter('retries', { cluster: 'backend', reason: '503' })).to.equal(n);
    expect(f.outbound.clusters()[0]?.priorities.map((p) => p.loadPercent)).to.deep.equal([100, 0]);
  });

  it('a retry tries the level’s other endpoint first, then the next priority', async function () {
    const locals = [scriptedApp([503]), scriptedApp([503])];
    const remote = scriptedApp([200]);
    const [a, b] = await Promise.all(locals.map((app) => f.backend(app)));
    const r = await f.backend(remote);
    await f.outbound.apply(
      simple(
        [endpoint(a!), endpoint(b!), endpoint(r, { priority: 1, zone: 'west' })],
        { outlier: { consecutive5xx: 0 } },
        { retry: { numRetries: 2 } },
      ),
    );
    const n = 10;
    for (let i = 0; i < n; i++) expect((await f.call('/')).status).to.equal(200);
    // Each request: one local endpoint, the other (previous hosts), then P1 (P0 used up).
    expect(locals.map((app) => app.hits)).to.deep.equal([n, n]);
    expect(remote.hits).to.equal(n);
    expect(await f.counter('retries', { cluster: 'backend' })).to.equal(2 * n);
  });

  it('a reset from the local endpoint is retried on the next priority', async function () {
    const local = resettingApp();
    const remote = scriptedApp([200]);
    const l = await f.backend(local);
    const r = await f.backend(remote);
    await f.outbound.apply(
      simple(
        [endpoint(l), endpoint(r, { priority: 1, zone: 'west' })],
        { outlier: { consecutiveConnectFailures: 0 } },
        { retry: { numRetries: 1 } },
      ),
    );
    const n = 10;
    for (let i = 0; i < n; i++) expect((await f.call('/')).status).to.equal(200);
    expect(local.hits).to.equal(n);
    expect(remote.hits).to.equal(n);
    expect(await f.counter('retries', { cluster: 'backend' })).to.equal(n);
  });

  it('a connect failure sends the retry to the next priority, not to the other local endpoints', async function () {
    const alive = [scriptedApp([200]), scriptedApp([200])];
    const remote = scriptedApp([200]);
    const [a, b, dead] = await Promise.all([...alive, scriptedApp([200])].map((x) => f.backend(x)));
    const r = await f.backend(remote);
    const deadEndpoint = endpoint(dead!);
    await dead!.close();
    await f.outbound.apply(
      simple(
        [deadEndpoint, endpoint(a!), endpoint(b!), endpoint(r, { priority: 1, zone: 'west' })],
        { outlier: { consecutiveConnectFailures: 0 } },
        { retry: { numRetries: 1 } },
      ),
    );
    const n = 30;
    for (let i = 0; i < n; i++) expect((await f.call('/')).status).to.equal(200);
    const retries = await f.counter('retries', { cluster: 'backend', reason: 'connect-failure' });
    // Round robin over three local endpoints: a third of the requests start on the dead one.
    expect(retries).to.equal(n / 3);
    expect(remote.hits).to.equal(retries);
    expect(alive[0]!.hits + alive[1]!.hits).to.equal(n - retries);
  });

  it('an ejection moves the local level’s load at once: retries only until it happens', async function () {
    const local = scriptedApp([503]);
    const remote = scriptedApp([200]);
    const l = await f.backend(local);
    const r = await f.backend(remote);
    await f.outbound.apply(
      simple(
        [endpoint(l), endpoint(r, { priority: 1, zone: 'west' })],
        { outlier: { consecutive5xx: 3 } },
        { retry: { numRetries: 1 } },
      ),
    );
    const n = 10;
    for (let i = 0; i < n; i++) expect((await f.call('/')).status).to.equal(200);
    // Three 503s eject the only local endpoint; from then on P1 gets all of the traffic.
    expect(local.hits).to.equal(3);
    expect(remote.hits).to.equal(n);
    expect(await f.counter('retries', { cluster: 'backend' })).to.equal(3);
    const [status] = f.outbound.clusters();
    expect(status?.priorities.map((p) => p.loadPercent)).to.deep.equal([0, 100]);
    expect(status).to.include({ priority: 1 });
    const prometheus = await f.metrics.registry.metrics();
    expect(prometheus).to.contain('causeway_proxy_priority_load{cluster="backend",priority="0"} 0');
    expect(prometheus).to.contain(
      'causeway_proxy_priority_load{cluster="backend",priority="1"} 100',
    );
  });

  it('spills part of the traffic to the next priority when local capacity is short', async function () {
    const apps = [200, 200, 200].map((s) => scriptedApp([s]));
    const [a, sick, r] = await Promise.all(apps.map((app) => f.backend(app)));
    await f.outbound.apply(
      simple([
        endpoint(a!),
        endpoint(sick!, { health: 'critical' }),
        endpoint(r!, { priority: 1, zone: 'west' }),
      ]),
    );
    // Half the local weight healthy: 50% × 1.4 = 70% stays local, 30% goes to P1.
    expect(f.outbound.clusters()[0]?.priorities.map((p) => p.loadPercent)).to.deep.equal([70, 30]);
    const n = 200;
    for (let i = 0; i < n; i++) expect((await f.call('/')).status).to.equal(200);
    expect(apps[1]!.hits).to.equal(0);
    // Binomial(200, 0.3): standard deviation ~6.5.
    expect(apps[2]!.hits).to.be.within(30, 90);
    expect(apps[0]!.hits + apps[2]!.hits).to.equal(n);
  });

  it('spreads traffic by weight across endpoints of one priority (zones behind gateways)', async function () {
    const apps = [scriptedApp([200]), scriptedApp([200])];
    const [east, west] = await Promise.all(apps.map((app) => f.backend(app)));
    await f.outbound.apply(
      simple([endpoint(east!, { weight: 3 }), endpoint(west!, { zone: 'west', weight: 1 })]),
    );
    for (let i = 0; i < 40; i++) await f.call('/');
    // Smooth weighted round robin: exactly 3:1.
    expect(apps.map((app) => app.hits)).to.deep.equal([30, 10]);
  });

  it('TCP: a connect failure on the local level fails over to the next priority within the connection', async function () {
    const echo = await f.backend();
    const dead = await f.backend();
    const deadEndpoint = endpoint(dead);
    await dead.close();
    await f.outbound.apply(
      simple(
        [deadEndpoint, endpoint(echo, { priority: 1, zone: 'west' })],
        { outlier: { consecutiveConnectFailures: 0 } },
        { retry: { numRetries: 1 } },
        'tcp',
      ),
    );
    const n = 5;
    for (let i = 0; i < n; i++)
      expect(await echoThrough(f.port(), `hello ${i}`)).to.equal(`hello ${i}`);
    expect(echo.peers).to.have.length(n);
    expect(await f.counter('retries', { cluster: 'backend', reason: 'connect-failure' })).to.equal(
      n,
    );
    await eventually(
      async () => (await f.counter('requests', { listener: 'backend', code_class: 'ok' })) === n,
      'every TCP connection to be counted ok',
    );
    expect(await f.counter('requests', { listener: 'backend', code_class: 'error' })).to.equal(0);
  });

  it('TCP: the retry after a connect failure skips the other endpoints of the failed level', async function () {
    const localEcho = await f.backend();
    const remoteEcho = await f.backend();
    const dead = await f.backend();
    const deadEndpoint = endpoint(dead);
    await dead.close();
    await f.outbound.apply(
      simple(
        [deadEndpoint, endpoint(localEcho), endpoint(remoteEcho, { priority: 1, zone: 'west' })],
        { outlier: { consecutiveConnectFailures: 0 } },
        { retry: { numRetries: 1 } },
        'tcp',
      ),
    );
    const n = 6;
    for (let i = 0; i < n; i++) expect(await echoThrough(f.port(), `x${i}`)).to.equal(`x${i}`);
    // Round robin: half of the connections start on the dead endpoint and end up on P1.
    expect(localEcho.peers).to.have.length(n / 2);
    expect(remoteEcho.peers).to.have.length(n / 2);
  });
});

import { expect } from 'chai';
import { eventually } from '../../helpers/async.ts';
import { OutboundFixture, scriptedApp } from './outbound-fixture.ts';

const { endpoint, config } = OutboundFixture;

describe('Outbound routing (matches, weighted splits, faults, balancers end to end)', function () {
  let f: OutboundFixture;

  beforeEach(async function () {
    f = await OutboundFixture.create();
  });

  afterEach(async function () {
    await f.close();
  });

  it('splits traffic by weight between versions within tolerance', async function () {
    const v1 = scriptedApp([200]);
    const v2 = scriptedApp([200]);
    const b1 = await f.backend(v1);
    const b2 = await f.backend(v2);
    await f.outbound.apply(
      config(
        [
          {
            name: 'backend',
            routes: [
              {
                match: {},
                destinations: [
                  { cluster: 'backend~v1', weight: 80 },
                  { cluster: 'backend~v2', weight: 20 },
                ],
              },
            ],
          },
        ],
        [
          { name: 'backend~v1', service: 'backend', endpoints: [endpoint(b1)] },
          { name: 'backend~v2', service: 'backend', endpoints: [endpoint(b2)] },
        ],
      ),
    );
    const n = 400;
    for (let i = 0; i < n; i++) await f.call('/');
    // Binomial(400, 0.2): sd = 8, so ±40 is five standard deviations.
    expect(v2.hits).to.be.within(80 - 40, 80 + 40);
    expect(v1.hits + v2.hits).to.equal(n);
  });

  it('routes by header and path before the catch-all, and answers 404 with no match', async function () {
    const canary = scriptedApp([201]);
    const stable = scriptedApp([200]);
    const c = await f.backend(canary);
    const s = await f.backend(stable);
    const clusters = [
      { name: 'backend~canary', service: 'backend', endpoints: [endpoint(c)] },
      { name: 'backend~stable', service: 'backend', endpoints: [endpoint(s)] },
    ];
    await f.outbound.apply(
      config(
        [
          {
            name: 'backend',
            routes: [
              {
                match: { headers: [{ name: 'x-canary', exact: 'yes' }] },
                destinations: [{ cluster: 'backend~canary' }],
              },
              {
                match: { pathPrefix: '/api/', methods: ['GET'] },
                destinations: [{ cluster: 'backend~stable' }],
              },
            ],
          },
        ],
        clusters,
      ),
    );
    expect((await f.call('/api/x', { headers: { 'x-canary': 'yes' } })).status).to.equal(201);
    expect((await f.call('/api/x')).status).to.equal(200);
    const miss = await f.call('/other');
    expect(miss.status).to.equal(404);
    expect(
      await f.counter('requests', { listener: 'backend', cluster: '', code_class: '4xx' }),
    ).to.equal(1);
  });

  it('injects an abort fault for every request at 100%', async function () {
    const app = scriptedApp([200]);
    const b = await f.backend(app);
    await f.outbound.apply(
      OutboundFixture.simple(
        [endpoint(b)],
        {},
        { fault: { abort: { percent: 100, httpStatus: 418 } } },
      ),
    );
    for (let i = 0; i < 5; i++) {
      const reply = await f.call('/');
      expect(reply.status).to.equal(418);
      expect(reply.body).to.equal('fault filter abort');
    }
    expect(app.hits).to.equal(0);
  });

  it('injects a delay fault, then serves the request', async function () {
    const b = await f.backend(scriptedApp([200]));
    await f.outbound.apply(
      OutboundFixture.simple(
        [endpoint(b)],
        {},
        { fault: { delay: { percent: 100, durationMs: 300 } } },
      ),
    );
    const started = performance.now();
    expect((await f.call('/')).status).to.equal(200);
    expect(performance.now() - started).to.be.at.least(290);
  });

  it('ring hash keeps a header value on one endpoint', async function () {
    const apps = [scriptedApp([200]), scriptedApp([200]), scriptedApp([200])];
    const backends = await Promise.all(apps.map((a) => f.backend(a)));
    await f.outbound.apply(
      OutboundFixture.simple(
        backends.map((b) => endpoint(b)),
        {
          lb: { policy: 'ring_hash', hashHeader: 'x-user' },
        },
      ),
    );
    for (const user of ['alice', 'bob', 'carol', 'dave']) {
      const before = apps.map((a) => a.hits);
      for (let i = 0; i < 5; i++) await f.call('/', { headers: { 'x-user': user } });
      const delta = apps.map((a, i) => a.hits - (before[i] as number));
      expect(
        delta.filter((d) => d > 0),
        `requests for ${user}`,
      ).to.deep.equal([5]);
    }
  });

  it('least request sends new requests to the idle endpoint', async function () {
    const releases: (() => void)[] = [];
    const quickHits = new Map<string, number>();
    const holdHits = new Map<string, number>();
    const app =
      (name: string): Parameters<typeof f.backend>[0] =>
      (req, res) => {
        if (req.url === '/hold') {
          holdHits.set(name, (holdHits.get(name) ?? 0) + 1);
          releases.push(() => res.end('held'));
          return;
        }
        quickHits.set(name, (quickHits.get(name) ?? 0) + 1);
        res.end('quick');
      };
    const a = await f.backend(app('a'));
    const b = await f.backend(app('b'));
    await f.outbound.apply(
      OutboundFixture.simple([endpoint(a), endpoint(b)], {
        lb: { policy: 'least_request', choiceCount: 2 },
      }),
    );
    const held = f.call('/hold');
    await eventually(() => releases.length === 1, 'the held request to arrive');
    const busy = [...holdHits.keys()][0];
    for (let i = 0; i < 10; i++) expect((await f.call('/')).status).to.equal(200);
    expect(quickHits.get(busy as string) ?? 0).to.equal(0);
    expect(quickHits.get(busy === 'a' ? 'b' : 'a')).to.equal(10);
    releases[0]?.();
    expect((await held).body).to.equal('held');
  });

  it('peak EWMA prefers the faster endpoint', async function () {
    const slowApp = scriptedApp([200], 60);
    const fastApp = scriptedApp([200]);
    const slow = await f.backend(slowApp);
    const fast = await f.backend(fastApp);
    await f.outbound.apply(
      OutboundFixture.simple([endpoint(slow), endpoint(fast)], { lb: { policy: 'peak_ewma' } }),
    );
    for (let i = 0; i < 20; i++) await f.call('/');
    expect(fastApp.hits).to.be.at.least(16);
  });

  it('sends traffic only to healthy endpoints of the preferred priority, failing over when none is left', async function () {
    const apps = [200, 200, 200, 200, 200].map((s) => scriptedApp([s]));
    const [a, b, c, sick, remote] = await Promise.all(apps.map((app) => f.backend(app)));
    // 3 of 4 local endpoints healthy: 75% × 1.4 is over 100, so the remote level gets nothing.
    const eps = (localHealth: string) => [
      endpoint(a!, { health: localHealth }),
      endpoint(b!, { health: localHealth }),
      endpoint(c!, { health: localHealth }),
      endpoint(sick!, { health: 'critical' }),
      endpoint(remote!, { priority: 1 }),
    ];
    await f.outbound.apply(OutboundFixture.simple(eps('passing')));
    for (let i = 0; i < 12; i++) await f.call('/');
    expect(apps.map((app) => app.hits)).to.deep.equal([4, 4, 4, 0, 0]);
    expect(f.outbound.clusters()[0]?.priorities.map((p) => p.loadPercent)).to.deep.equal([100, 0]);
    await f.outbound.apply(OutboundFixture.simple(eps('critical')));
    for (let i = 0; i < 4; i++) await f.call('/');
    expect(apps.map((app) => app.hits)).to.deep.equal([4, 4, 4, 0, 4]);
    expect(f.outbound.clusters()[0]).to.include({ priority: 1, panic: false });
    expect(f.outbound.clusters()[0]?.priorities.map((p) => p.loadPercent)).to.deep.equal([0, 100]);
  });

  it('panics below the threshold: all endpoints of the level share traffic', async function () {
    const apps = [scriptedApp([200]), scriptedApp([200]), scriptedApp([200])];
    const backends = await Promise.all(apps.map((a) => f.backend(a)));
    await f.outbound.apply(
      OutboundFixture.simple(
        backends.map((b, i) => endpoint(b, { health: i === 0 ? 'passing' : 'critical' })),
        { panicThresholdPercent: 50 },
      ),
    );
    for (let i = 0; i < 6; i++) await f.call('/');
    expect(apps.map((a) => a.hits)).to.deep.equal([2, 2, 2]);
    expect(f.outbound.clusters()[0]).to.include({ panic: true });
  });
});

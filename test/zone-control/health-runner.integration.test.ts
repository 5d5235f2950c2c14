/**
 * The health check runner as a component, against a real store and a tiny HTTP server:
 * it starts checks registered after it started, writes a result only when it changes
 * something (so the index, and with it every blocking health query, stays still), restarts
 * a check whose definition changes, and stops cleanly — timers and probes included — when
 * its signal aborts.
 */
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { register } from '../../core/src/catalog/catalog-writer.ts';
import { readCatalog } from '../../core/src/catalog/snapshot.ts';
import { CONSUL_API_SOURCE } from '../../core/src/catalog/types.ts';
import type { HealthCheck } from '../../core/src/catalog/types.ts';
import { openStore } from '../../core/src/store/open-store.ts';
import type { Store } from '../../core/src/store/types.ts';
import { HealthCheckRunner } from '../../zone-control/src/health/check-runner.ts';
import { startRedis } from '../helpers/redis-server.ts';
import type { RedisServer } from '../helpers/redis-server.ts';

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined) {
  const deadline = Date.now() + 8000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const logger = pino({ level: 'silent' });

function httpCheck(url: string, intervalMs = 50): HealthCheck {
  return {
    node: 'node-1',
    checkId: 'web-http',
    name: 'web',
    status: 'critical',
    notes: '',
    output: '',
    serviceId: 'web-1',
    serviceName: 'web',
    type: 'http',
    definition: { http: url, intervalMs },
    monitored: true,
    source: CONSUL_API_SOURCE,
  };
}

for (const backend of ['embedded', 'redis'] as const) {
  describe(`health check runner on ${backend} (integration)`, function () {
    let redis: RedisServer | undefined;
    /** Each test gets its own Redis database, so none sees another's checks. */
    let db = 0;
    let store: Store;
    let server: http.Server;
    let body: () => string;
    let hits: number;
    let url: string;
    let stop: AbortController;
    let running: Promise<void>;
    let runner: HealthCheckRunner;

    async function registerCheck(check: HealthCheck): Promise<void> {
      await register(store, {
        node: {
          name: 'node-1',
          address: '127.0.0.1',
          id: '',
          zone: 'z',
          taggedAddresses: {},
          meta: {},
          source: CONSUL_API_SOURCE,
        },
        service: {
          id: 'web-1',
          service: 'web',
          namespace: 'default',
          node: 'node-1',
          zone: 'z',
          address: '',
          port: 0,
          protocol: 'http',
          proxy: {},
          tags: [],
          meta: {},
          weights: { passing: 1, warning: 1 },
          source: CONSUL_API_SOURCE,
        },
        checks: [check],
      });
    }

    async function checkRecord() {
      return (await readCatalog(store)).check('node-1', 'web-http');
    }

    before(async function () {
      if (backend === 'redis') redis = await startRedis();
    });
    after(async function () {
      await redis?.stop();
    });

    beforeEach(async function () {
      store = await openStore(redis === undefined ? 'memory' : `${redis.url}/${db++}`);
      hits = 0;
      body = () => 'ok';
      server = http.createServer((_req, res) => {
        hits++;
        res.end(body());
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      runner = new HealthCheckRunner(store, logger, { minIntervalMs: 10 });
      stop = new AbortController();
      running = runner.start(stop.signal);
      await runner.ready();
    });
    afterEach(async function () {
      stop.abort();
      await running;
      server.close();
      await store.close();
    });

    it('starts a check registered after the runner started', async function () {
      await registerCheck(httpCheck(url));
      const passing = await until('passing', async () => {
        const c = await checkRecord();
        return c?.status === 'passing' ? c : undefined;
      });
      expect(passing.output).to.equal(`HTTP GET ${url}: 200 OK Output: ok`);
    });

    it('writes nothing while results stay the same', async function () {
      await registerCheck(httpCheck(url));
      await until('passing', async () =>
        (await checkRecord())?.status === 'passing' ? true : undefined,
      );
      const index = await store.currentIndex();
      const seen = hits;
      await until('more probes', () => (hits >= seen + 5 ? true : undefined));
      expect(await store.currentIndex()).to.equal(index);
    });

    it('holds back an output-only change until the output update interval', async function () {
      let n = 0;
      body = () => `request ${n++}`;
      await registerCheck(httpCheck(url));
      await until('passing', async () =>
        (await checkRecord())?.status === 'passing' ? true : undefined,
      );
      const index = await store.currentIndex();
      const seen = hits;
      await until('more probes', () => (hits >= seen + 5 ? true : undefined));
      // Every body differed, the status did not: nothing written (Consul's check_update_interval).
      expect(await store.currentIndex()).to.equal(index);
    });

    it('restarts a check whose definition changes', async function () {
      await registerCheck(httpCheck(`${url}first`));
      await until('passing', async () =>
        (await checkRecord())?.status === 'passing' ? true : undefined,
      );
      const other = http.createServer((_req, res) => {
        res.writeHead(503);
        res.end('down');
      });
      await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
      try {
        const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}/`;
        await registerCheck({ ...httpCheck(otherUrl), status: 'passing' });
        const critical = await until('critical', async () => {
          const c = await checkRecord();
          return c?.status === 'critical' ? c : undefined;
        });
        expect(critical.output).to.include(otherUrl);
      } finally {
        other.close();
      }
    });

    it('stops its probes and resolves when its signal aborts', async function () {
      await registerCheck(httpCheck(url));
      await until('probes', () => (hits >= 2 ? true : undefined));
      stop.abort();
      await running;
      const after = hits;
      await new Promise((r) => setTimeout(r, 200));
      expect(hits).to.equal(after);
    });
  });
}

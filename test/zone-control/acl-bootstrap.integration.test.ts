/**
 * Getting the first management token: generated and logged once at the first start,
 * `--bootstrap-token`, `PUT /v1/acl/bootstrap` (once only), and `--dev` turning ACLs off —
 * on an embedded store persisted to a data dir and on a real Redis, restarting the zone on
 * the same data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import Consul from 'consul';
import { pino } from 'pino';
import type { ZoneOptions } from '../../zone-control/index.ts';
import { startRedis } from '../helpers/redis-server.ts';
import type { RedisServer } from '../helpers/redis-server.ts';
import { startZone } from '../helpers/zone.ts';
import type { TestZone } from '../helpers/zone.ts';

interface LoggedZone extends TestZone {
  /** Every log line so far, parsed. */
  lines: { level: string | number; msg: string; raw: string }[];
}

/** A real zone whose log lines (debug and up) the test can read. */
async function startLoggedZone(options: ZoneOptions): Promise<LoggedZone> {
  const lines: LoggedZone['lines'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const raw of chunk.toString('utf8').split('\n').filter(Boolean)) {
        const parsed = JSON.parse(raw) as { level: string | number; msg: string };
        lines.push({ level: parsed.level, msg: parsed.msg, raw });
      }
      done();
    },
  });
  const zone = await startZone(options, pino({ level: 'debug' }, sink));
  return { ...zone, lines };
}

const WARN = 40;

for (const backend of ['embedded', 'redis'] as const) {
  describe(`ACL bootstrap on ${backend} (integration)`, function () {
    let redis: RedisServer | undefined;
    let dirs: string[] = [];
    let db = 0;

    before(async function () {
      if (backend === 'redis') redis = await startRedis();
    });
    after(async function () {
      await redis?.stop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      dirs = [];
    });

    /** Fresh, persistent storage for one test: a data dir, or a Redis database of its own. */
    function freshStore(): Pick<ZoneOptions, 'store' | 'dataDir'> {
      if (redis) return { store: `${redis.url}/${++db}` };
      const dir = mkdtempSync(join(tmpdir(), 'causeway-acl-'));
      dirs.push(dir);
      return { dataDir: dir };
    }

    it('generates a management token at the first start and logs its secret once, at warn', async function () {
      const store = freshStore();
      const first = await startLoggedZone({ ...store, dev: false });
      const warned = first.lines.filter((l) => /SecretID: /.test(l.msg));
      expect(warned).to.have.length(1);
      expect(warned[0]?.level).to.equal(WARN);
      const secret = /SecretID: ([0-9a-f-]{36})/.exec(warned[0]?.msg ?? '')?.[1] ?? '';
      const self = await fetch(`${first.url}/v1/acl/token/self`, {
        headers: { 'X-Consul-Token': secret },
      });
      expect(self.status).to.equal(200);
      expect(await self.json()).to.include({ Description: 'Bootstrap Token (Global Management)' });
      await first.stop();

      const second = await startLoggedZone({ ...store, dev: false });
      const again = await fetch(`${second.url}/v1/acl/policies`, {
        headers: { 'X-Consul-Token': secret },
      });
      expect(again.status).to.equal(200);
      await second.stop();
      const everyLine = [...first.lines, ...second.lines].map((l) => l.raw);
      expect(everyLine.filter((l) => l.includes(secret))).to.have.length(1);
    });

    it('lets PUT /v1/acl/bootstrap make the first token once, then answers 403', async function () {
      const z = await startLoggedZone({ ...freshStore(), dev: false, aclBootstrap: 'api' });
      try {
        expect(z.lines.some((l) => l.msg.includes('SecretID'))).to.equal(false);
        expect((await fetch(`${z.url}/v1/acl/tokens`)).status).to.equal(403);
        const consul = new Consul({ host: '127.0.0.1', port: z.port });
        const token = (await consul.acl.bootstrap()) as Record<string, unknown>;
        expect(token).to.include({ Description: 'Bootstrap Token (Global Management)' });
        expect(token.ID).to.equal(token.SecretID);
        expect(token.Policies).to.deep.equal([
          { ID: '00000000-0000-0000-0000-000000000001', Name: 'global-management' },
        ]);
        const list = await fetch(`${z.url}/v1/acl/tokens`, {
          headers: { 'X-Consul-Token': token.SecretID as string },
        });
        expect(list.status).to.equal(200);

        const again = await fetch(`${z.url}/v1/acl/bootstrap`, { method: 'PUT' });
        expect(again.status).to.equal(403);
        expect(await again.text()).to.equal(
          `Permission denied: ACL bootstrap no longer allowed (reset index: ${token.CreateIndex as number})\n`,
        );
        const viaClient = await consul.acl.bootstrap().then(
          () => 0,
          (err: { response?: { statusCode: number } }) => err.response?.statusCode,
        );
        expect(viaClient).to.equal(403);
      } finally {
        await z.stop();
      }
    });

    it("takes the operator's BootstrapSecret and refuses one that is not a UUID", async function () {
      const z = await startLoggedZone({ ...freshStore(), dev: false, aclBootstrap: 'api' });
      try {
        const bad = await fetch(`${z.url}/v1/acl/bootstrap`, {
          method: 'PUT',
          body: JSON.stringify({ BootstrapSecret: 'short' }),
        });
        expect(bad.status).to.equal(400);
        expect(await bad.text()).to.equal('BootstrapSecret must be a UUID\n');
        const secret = '2b778dd9-f5f1-6f29-b4b4-9a5fa948757a';
        const res = await fetch(`${z.url}/v1/acl/bootstrap`, {
          method: 'PUT',
          body: JSON.stringify({ BootstrapSecret: secret }),
        });
        expect(((await res.json()) as { SecretID: string }).SecretID).to.equal(secret);
      } finally {
        await z.stop();
      }
    });

    it('creates the --bootstrap-token management token, which uses up bootstrap, and never logs it', async function () {
      const secret = 'e0b3c1f4-8a7d-4b52-9e61-0c2d3f4a5b6c';
      const store = freshStore();
      const z = await startLoggedZone({ ...store, dev: false, bootstrapToken: secret });
      const boot = await fetch(`${z.url}/v1/acl/bootstrap`, { method: 'PUT' });
      expect(boot.status).to.equal(403);
      expect(await boot.text()).to.match(/^Permission denied: ACL bootstrap no longer allowed/);
      await fetch(`${z.url}/v1/acl/tokens`, { headers: { 'X-Consul-Token': 'wrong' } });
      await z.stop();
      // A restart with the same token finds it and makes no second one.
      const again = await startLoggedZone({ ...store, dev: false, bootstrapToken: secret });
      const list = await fetch(`${again.url}/v1/acl/tokens`, {
        headers: { Authorization: `Bearer ${secret}` },
      });
      const management = ((await list.json()) as { Description: string }[]).filter(
        (t) => t.Description === 'Initial Management Token',
      );
      expect(management).to.have.length(1);
      await again.stop();
      expect([...z.lines, ...again.lines].some((l) => l.raw.includes(secret))).to.equal(false);
    });
  });
}

describe('ACL bootstrap with several zone servers on one Redis (integration)', function () {
  let redis: RedisServer;
  before(async function () {
    redis = await startRedis();
  });
  after(async function () {
    await redis?.stop();
  });

  it('generates exactly one management token when servers start together', async function () {
    const zones = await Promise.all(
      [1, 2, 3].map(() => startLoggedZone({ store: redis.url, dev: false })),
    );
    const warned = zones.flatMap((z) => z.lines.filter((l) => l.msg.includes('SecretID: ')));
    await Promise.all(zones.map((z) => z.stop()));
    expect(warned).to.have.length(1);
  });
});

describe('ACLs off with --dev (integration)', function () {
  it('answers every /v1/acl path with 401 "ACL support disabled" and lets KV through', async function () {
    const z = await startZone({ dev: true });
    try {
      for (const [method, path] of [
        ['GET', '/v1/acl/tokens'],
        ['PUT', '/v1/acl/bootstrap'],
        ['GET', '/v1/acl/token/self'],
        ['GET', '/v1/acl/roles'],
      ] as const) {
        const res = await fetch(`${z.url}${path}`, { method });
        expect(res.status, path).to.equal(401);
        expect(await res.text(), path).to.equal('ACL support disabled\n');
      }
      const put = await fetch(`${z.url}/v1/kv/dev/x`, { method: 'PUT', body: 'v' });
      expect(put.status).to.equal(200);
      expect(put.headers.get('x-consul-default-acl-policy')).to.equal('allow');
    } finally {
      await z.stop();
    }
  });
});

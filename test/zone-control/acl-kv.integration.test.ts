/**
 * ACL tokens guarding the KV store on a real zone: scoped key rules, read-only and deny
 * rules, the ways a token travels (X-Consul-Token, Bearer, ?token=, the consul client's
 * `token` option), and revocation taking effect at once — on this server and on another
 * zone server sharing the same Redis.
 */
import { expect } from 'chai';
import Consul from 'consul';
import { startRedis } from '../helpers/redis-server.ts';
import type { RedisServer } from '../helpers/redis-server.ts';
import { forEachBackend, startZone } from '../helpers/zone.ts';
import type { TestZone } from '../helpers/zone.ts';

const ROOT = '3f1b8f0c-6a2e-4d8e-9a57-2f4c1d0b9e11';

interface ClientError {
  response?: { statusCode: number; body: unknown };
}

/** The HTTP status and body a consul client call failed with. */
async function failure(call: Promise<unknown>): Promise<{ status: number; body: string }> {
  try {
    await call;
  } catch (err) {
    const res = (err as ClientError).response;
    return { status: res?.statusCode ?? 0, body: String(res?.body) };
  }
  throw new Error('expected the call to fail');
}

forEachBackend('ACL-guarded KV', { dev: false, bootstrapToken: ROOT }, (env) => {
  function kv(method: string, key: string, headers: Record<string, string> = {}, body?: string) {
    return fetch(`${env.zone.url}/v1/kv/${key}`, { method, headers, body });
  }

  /** A token whose only policy has `rules`; answers its AccessorID and SecretID. */
  async function tokenWith(...rules: string[]): Promise<{ AccessorID: string; SecretID: string }> {
    const policies = [];
    for (const r of rules) {
      const res = await fetch(`${env.zone.url}/v1/acl/policy`, {
        method: 'PUT',
        headers: { 'X-Consul-Token': ROOT },
        body: JSON.stringify({ Name: `p-${Math.random().toString(36).slice(2)}`, Rules: r }),
      });
      policies.push({ ID: ((await res.json()) as { ID: string }).ID });
    }
    const res = await fetch(`${env.zone.url}/v1/acl/token`, {
      method: 'PUT',
      headers: { 'X-Consul-Token': ROOT },
      body: JSON.stringify({ Policies: policies }),
    });
    return (await res.json()) as { AccessorID: string; SecretID: string };
  }

  it('lets a key_prefix "app/" write token write app/x but not other/x', async function () {
    const t = await tokenWith('key_prefix "app/" { policy = "write" }');
    const h = { 'X-Consul-Token': t.SecretID };
    const ok = await kv('PUT', 'app/x', h, 'v1');
    expect(ok.status).to.equal(200);
    expect(await ok.text()).to.equal('true');
    const denied = await kv('PUT', 'other/x', h, 'v1');
    expect(denied.status).to.equal(403);
    expect(await denied.text()).to.equal(
      `Permission denied: token with AccessorID '${t.AccessorID}' lacks permission 'key:write' on "other/x"\n`,
    );
    const read = await kv('GET', 'other/x', h);
    expect(read.status).to.equal(403);
    expect(await read.text()).to.include('lacks permission \'key:read\' on "other/x"');
  });

  it('lets a read-only token read but not write', async function () {
    await kv('PUT', 'ro/x', { 'X-Consul-Token': ROOT }, 'value');
    const t = await tokenWith('key_prefix "ro/" { policy = "read" }');
    const h = { Authorization: `Bearer ${t.SecretID}` };
    expect((await kv('GET', 'ro/x', h)).status).to.equal(200);
    const write = await kv('PUT', 'ro/x', h, 'changed');
    expect(write.status).to.equal(403);
    expect(await write.text()).to.include('lacks permission \'key:write\' on "ro/x"');
    expect((await kv('DELETE', 'ro/x', h)).status).to.equal(403);
  });

  it('lets deny beat allow, by exact rule and across policies', async function () {
    const t = await tokenWith(
      'key_prefix "mix/" { policy = "write" }\nkey "mix/secret" { policy = "deny" }',
      'key_prefix "mix/locked/" { policy = "deny" }',
      'key_prefix "mix/locked/" { policy = "write" }',
    );
    const h = { 'X-Consul-Token': t.SecretID };
    expect((await kv('PUT', 'mix/open', h, 'v')).status).to.equal(200);
    expect((await kv('PUT', 'mix/secret', h, 'v')).status).to.equal(403);
    expect((await kv('GET', 'mix/secret', h)).status).to.equal(403);
    expect((await kv('PUT', 'mix/locked/a', h, 'v')).status).to.equal(403);
  });

  it('lets the management token write anywhere, and refuses no token and unknown tokens', async function () {
    expect((await kv('PUT', 'anywhere/x', { 'X-Consul-Token': ROOT }, 'v')).status).to.equal(200);
    const anonymous = await kv('GET', 'anywhere/x');
    expect(anonymous.status).to.equal(403);
    expect(await anonymous.text()).to.match(/^Permission denied: anonymous token lacks/);
    const unknown = await kv('GET', 'anywhere/x', { 'X-Consul-Token': 'no-such-token' });
    expect(unknown.status).to.equal(403);
    expect(await unknown.text()).to.equal('ACL not found\n');
    const query = await fetch(`${env.zone.url}/v1/kv/anywhere/x?token=${ROOT}`);
    expect(query.status).to.equal(200);
  });

  it("takes the token from the consul client's token option", async function () {
    const t = await tokenWith('key_prefix "client/" { policy = "write" }');
    const consul = new Consul({
      host: '127.0.0.1',
      port: env.zone.port,
      defaults: { token: t.SecretID },
    });
    await consul.kv.set('client/a', 'one');
    const got = (await consul.kv.get('client/a')) as { Value: string } | undefined;
    expect(got?.Value).to.equal('one');
    const denied = await failure(consul.kv.set('elsewhere/a', 'two'));
    expect(denied.status).to.equal(403);
    expect(denied.body).to.include('lacks permission \'key:write\' on "elsewhere/a"');

    // Per call, overriding the default.
    const anonymous = new Consul({ host: '127.0.0.1', port: env.zone.port });
    expect((await failure(anonymous.kv.get('client/a'))).status).to.equal(403);
    // The client sends `token` on every call, though its kv typings do not list it.
    const options = { key: 'client/a', token: t.SecretID };
    const perCall = (await anonymous.kv.get(options)) as { Value: string };
    expect(perCall.Value).to.equal('one');
  });

  it('refuses a revoked token on the next request', async function () {
    const t = await tokenWith('key_prefix "rev/" { policy = "write" }');
    const h = { 'X-Consul-Token': t.SecretID };
    expect((await kv('PUT', 'rev/x', h, 'v')).status).to.equal(200);
    expect((await kv('GET', 'rev/x', h)).status).to.equal(200);
    const del = await fetch(`${env.zone.url}/v1/acl/token/${t.AccessorID}`, {
      method: 'DELETE',
      headers: { 'X-Consul-Token': ROOT },
    });
    expect(del.status).to.equal(200);
    const after = await kv('GET', 'rev/x', h);
    expect(after.status).to.equal(403);
    expect(await after.text()).to.equal('ACL not found\n');
  });
});

describe('ACL changes across two zone servers sharing one Redis (integration)', function () {
  let redis: RedisServer;
  let a: TestZone;
  let b: TestZone;

  before(async function () {
    redis = await startRedis();
    a = await startZone({ dev: false, bootstrapToken: ROOT, store: redis.url });
    b = await startZone({ dev: false, bootstrapToken: ROOT, store: redis.url });
  });
  after(async function () {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  /** Poll until `check` holds; ACL changes reach the other server through its store watch. */
  async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('shares one management token and applies a revocation made on the other server', async function () {
    const res = await fetch(`${a.url}/v1/acl/token`, {
      method: 'PUT',
      headers: { 'X-Consul-Token': ROOT },
      body: JSON.stringify({ Rules: 'key_prefix "shared/" { policy = "write" }' }),
    });
    const t = (await res.json()) as { AccessorID: string; SecretID: string };
    const onB = (): Promise<Response> =>
      fetch(`${b.url}/v1/kv/shared/x`, {
        method: 'PUT',
        headers: { 'X-Consul-Token': t.SecretID },
        body: 'v',
      });
    expect((await onB()).status).to.equal(200);
    // Cached on B now; the revocation on A must still reach it.
    expect((await onB()).status).to.equal(200);
    await fetch(`${a.url}/v1/acl/token/${t.AccessorID}`, {
      method: 'DELETE',
      headers: { 'X-Consul-Token': ROOT },
    });
    await eventually(async () => (await onB()).status === 403, 'B refuses the revoked token');
    const tokens = await fetch(`${b.url}/v1/acl/tokens`, { headers: { 'X-Consul-Token': ROOT } });
    const management = ((await tokens.json()) as { Description: string }[]).filter(
      (s) => s.Description === 'Initial Management Token',
    );
    expect(management).to.have.length(1);
  });
});

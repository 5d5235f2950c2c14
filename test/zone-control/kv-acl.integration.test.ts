/**
 * What ACLs do to listings, recursive deletes, transactions and sessions on a real zone
 * with ACLs on: keys a token may not read are left out of listings (with Consul's
 * `X-Consul-Results-Filtered-By-ACLs` header) rather than failing them, a recursive delete
 * never sweeps a denied key away, transactions report refused ops as Consul does (409),
 * and sessions need `session:write` on their node — on embedded and Redis.
 */
import { expect } from 'chai';
import { forEachBackend } from '../helpers/zone.ts';

const ROOT = '5d0c8a3e-2b1f-4c6d-9e7a-0f1b2c3d4e5f';

forEachBackend(
  'ACLs on KV listings, transactions and sessions',
  { dev: false, bootstrapToken: ROOT },
  (env) => {
    before(async function () {
      for (const k of ['acl/open/a', 'acl/open/b', 'acl/secret/x', 'acl/secret/y']) {
        await call(ROOT, 'PUT', `kv/${k}`, 'v');
      }
    });

    function call(token: string, method: string, path: string, body?: unknown): Promise<Response> {
      return fetch(`${env.zone.url}/v1/${path}`, {
        method,
        headers: { 'X-Consul-Token': token },
        body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body),
      });
    }

    /** A token with the given inline rules (HCL); answers its SecretID. */
    async function tokenWith(rules: string): Promise<string> {
      const res = await call(ROOT, 'PUT', 'acl/token', { Rules: rules });
      expect(res.status).to.equal(200);
      return ((await res.json()) as { SecretID: string }).SecretID;
    }

    it('leaves unreadable keys out of recursive and key listings, and says so', async function () {
      const t = await tokenWith(
        'key_prefix "acl/" { policy = "read" }\nkey_prefix "acl/secret/" { policy = "deny" }',
      );
      const tree = await call(t, 'GET', 'kv/acl/?recurse');
      expect(tree.status).to.equal(200);
      expect(tree.headers.get('x-consul-results-filtered-by-acls')).to.equal('true');
      expect(((await tree.json()) as { Key: string }[]).map((e) => e.Key)).to.deep.equal([
        'acl/open/a',
        'acl/open/b',
      ]);
      const keys = await call(t, 'GET', 'kv/acl/?keys&separator=/');
      expect(await keys.json()).to.deep.equal(['acl/open/']);
      const none = await call(t, 'GET', 'kv/acl/secret/?recurse');
      expect(none.status).to.equal(404);
      const all = await call(ROOT, 'GET', 'kv/acl/?keys&separator=/');
      expect(all.headers.get('x-consul-results-filtered-by-acls')).to.equal(null);
      expect(await all.json()).to.deep.equal(['acl/open/', 'acl/secret/']);
    });

    it('refuses a recursive delete that would remove a denied key, deleting nothing', async function () {
      const t = await tokenWith(
        'key_prefix "acl/" { policy = "write" }\nkey "acl/secret/y" { policy = "deny" }',
      );
      const res = await call(t, 'DELETE', 'kv/acl/?recurse');
      expect(res.status).to.equal(403);
      expect(await res.text()).to.include(`lacks permission 'key:write' on "acl/secret/y"`);
      const left = await call(ROOT, 'GET', 'kv/acl/?keys');
      expect(await left.json()).to.have.length(4);
    });

    it('answers refused transaction ops with 409 and filters unreadable results', async function () {
      const t = await tokenWith('key_prefix "acl/open/" { policy = "write" }');
      const refused = await call(t, 'PUT', 'txn', [
        { KV: { Verb: 'set', Key: 'acl/open/c', Value: 'dg==' } },
        { KV: { Verb: 'set', Key: 'acl/secret/z', Value: 'dg==' } },
      ]);
      expect(refused.status).to.equal(409);
      const body = (await refused.json()) as { Errors: { OpIndex: number; What: string }[] };
      expect(body.Errors).to.have.length(1);
      expect(body.Errors[0]?.OpIndex).to.equal(1);
      expect(body.Errors[0]?.What).to.include(`lacks permission 'key:write' on "acl/secret/z"`);
      expect((await call(ROOT, 'GET', 'kv/acl/open/c')).status).to.equal(404);
      const reads = await call(t, 'PUT', 'txn', [{ KV: { Verb: 'get-tree', Key: 'acl/' } }]);
      expect(reads.status).to.equal(200);
      const results = ((await reads.json()) as { Results: { KV: { Key: string } }[] }).Results;
      expect(results.map((r) => r.KV.Key)).to.deep.equal(['acl/open/a', 'acl/open/b']);
    });

    it("needs session:write on the session's node to create one", async function () {
      const t = await tokenWith('session "node-a" { policy = "write" }');
      const ok = await call(t, 'PUT', 'session/create', { Node: 'node-a' });
      expect(ok.status).to.equal(200);
      const denied = await call(t, 'PUT', 'session/create', { Node: 'node-b' });
      expect(denied.status).to.equal(403);
      expect(await denied.text()).to.include(`lacks permission 'session:write' on "node-b"`);
      const mine = (await (await call(t, 'GET', 'session/list')).json()) as { Node: string }[];
      expect(mine.every((s) => s.Node === 'node-a')).to.equal(true);
    });
  },
);

/**
 * Token resolution: where a request's token is read from, the in-memory cache, and the
 * store watch that empties it when ACL records change behind this server's back.
 */
import { expect } from 'chai';
import type { Context } from 'koa';
import { pino } from 'pino';
import { openStore } from '../../core/index.ts';
import type { Store } from '../../core/index.ts';
import { initializeAcl } from '../../zone-control/src/acl/acl-bootstrap.ts';
import { parseTokenInput } from '../../zone-control/src/acl/acl-input.ts';
import { createPolicy } from '../../zone-control/src/acl/acl-policies.ts';
import { secretKey, tokenKey } from '../../zone-control/src/acl/acl-records.ts';
import { AclResolver, requestToken } from '../../zone-control/src/acl/acl-resolver.ts';
import { createToken } from '../../zone-control/src/acl/acl-tokens.ts';

const ROOT = 'root-secret';
const logger = pino({ level: 'silent' });

function fakeContext(query: Record<string, string>, headers: Record<string, string>): Context {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { query, get: (name: string) => lower[name.toLowerCase()] ?? '' } as unknown as Context;
}

/** Counts point reads, to tell a cache hit from a store lookup. */
function counting(store: Store): { store: Store; reads: () => number } {
  let reads = 0;
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'get') {
        return (key: string) => {
          reads++;
          return target.get(key);
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
  return { store: proxy, reads: () => reads };
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('ACL token resolution', function () {
  describe('requestToken', function () {
    it('prefers ?token=, then X-Consul-Token, then Authorization: Bearer, as Consul does', function () {
      const all = { 'X-Consul-Token': 'header', Authorization: 'Bearer bearer' };
      expect(requestToken(fakeContext({ token: 'query' }, all))).to.equal('query');
      expect(requestToken(fakeContext({}, all))).to.equal('header');
      expect(requestToken(fakeContext({}, { Authorization: 'bearer  spaced ' }))).to.equal(
        'spaced',
      );
      expect(requestToken(fakeContext({}, { Authorization: 'Basic abc' }))).to.equal('');
      expect(requestToken(fakeContext({}, { Authorization: 'Bearer' }))).to.equal('');
      expect(requestToken(fakeContext({}, {}))).to.equal('');
    });
  });

  describe('AclResolver', function () {
    let raw: Store;
    let ac: AbortController;
    let running: Promise<void> | undefined;

    beforeEach(async function () {
      raw = await openStore('memory', {});
      await initializeAcl(raw, { bootstrapToken: ROOT, aclBootstrap: 'generate' }, logger);
      ac = new AbortController();
      running = undefined;
    });
    afterEach(async function () {
      ac.abort();
      await running;
      await raw.close();
    });

    it('reads the store every time while its watch is not running', async function () {
      const { store, reads } = counting(raw);
      const resolver = new AclResolver(store, 'test', logger);
      await resolver.authorizerFor(ROOT);
      const before = reads();
      await resolver.authorizerFor(ROOT);
      expect(reads()).to.be.greaterThan(before);
    });

    it('answers from memory once watching, until an ACL record changes in the store', async function () {
      const { store, reads } = counting(raw);
      const resolver = new AclResolver(store, 'test', logger);
      running = resolver.run(ac.signal);
      await eventually(async () => {
        await resolver.authorizerFor(ROOT);
        const before = reads();
        await resolver.authorizerFor(ROOT);
        return reads() === before;
      }, 'the resolver caches');
      const authz = await resolver.authorizerFor(ROOT);
      expect(authz.allows('key', 'anything', 'write')).to.equal(true);

      // Removed directly in the store, as another zone server would.
      const link = await raw.get(secretKey(ROOT));
      await raw.txn([
        { op: 'delete', key: secretKey(ROOT) },
        { op: 'delete', key: tokenKey(link?.value.toString() ?? '') },
      ]);
      await eventually(
        () =>
          resolver.authorizerFor(ROOT).then(
            () => false,
            (err: Error) => err.message === 'ACL not found',
          ),
        'the cached token is dropped',
      );
    });

    it("grants what Consul's service and node identities grant, in this zone only", async function () {
      const { secretId } = await createToken(
        raw,
        parseTokenInput({
          ServiceIdentities: [{ ServiceName: 'web' }, { ServiceName: 'db', Datacenters: ['far'] }],
          NodeIdentities: [
            { NodeName: 'n1', Datacenter: 'test' },
            { NodeName: 'n2', Datacenter: 'far' },
          ],
        }),
      );
      const a = await new AclResolver(raw, 'test', logger).authorizerFor(secretId);
      expect(a.allows('service', 'web', 'write')).to.equal(true);
      expect(a.allows('service', 'web-sidecar-proxy', 'write')).to.equal(true);
      expect(a.allows('service', 'db', 'write')).to.equal(false);
      expect(a.allows('service', 'db', 'read')).to.equal(true);
      expect(a.allows('node', 'n1', 'write')).to.equal(true);
      expect(a.allows('node', 'n2', 'write')).to.equal(false);
      expect(a.allows('key', 'x', 'read')).to.equal(false);
    });

    it('applies a policy limited to datacenters only in a zone it names', async function () {
      const here = await createPolicy(raw, {
        name: 'here',
        description: '',
        rules: 'operator = "read"',
        datacenters: ['test'],
      });
      const far = await createPolicy(raw, {
        name: 'far',
        description: '',
        rules: 'acl = "read"',
        datacenters: ['far'],
      });
      const { secretId } = await createToken(
        raw,
        parseTokenInput({ Policies: [{ ID: here.record.id }, { ID: far.record.id }] }),
      );
      const a = await new AclResolver(raw, 'test', logger).authorizerFor(secretId);
      expect(a.allows('operator', '', 'read')).to.equal(true);
      expect(a.allows('acl', '', 'read')).to.equal(false);
    });

    it('refuses a token once its expiration time has passed', async function () {
      const { stored, secretId } = await createToken(raw, parseTokenInput({ ExpirationTTL: '1m' }));
      const resolver = new AclResolver(raw, 'test', logger);
      expect((await resolver.authorizerFor(secretId)).accessorId).to.equal(
        stored.record.accessorId,
      );
      // Age the token instead of waiting a minute.
      const past = { ...stored.record, expirationTime: new Date(Date.now() - 1000).toISOString() };
      await raw.put(tokenKey(past.accessorId), Buffer.from(JSON.stringify(past)));
      const err = await resolver.authorizerFor(secretId).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).to.equal('ACL not found');
    });

    it('resolves no token to the anonymous token, which has no rights', async function () {
      const resolver = new AclResolver(raw, 'test', logger);
      const anonymous = await resolver.authorizerFor('');
      expect(anonymous.accessorId).to.equal('00000000-0000-0000-0000-000000000002');
      expect(anonymous.allows('key', 'x', 'read')).to.equal(false);
    });
  });
});

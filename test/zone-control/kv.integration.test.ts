/**
 * `/v1/kv` on a real zone, driven by the `consul` npm client and by raw HTTP for the
 * exact shapes and headers: get/set/delete, keys and separators, check-and-set, flags,
 * raw values, URL-encoded keys and blocking queries — on the embedded store and on Redis.
 */
import { expect } from 'chai';
import { raceTimeout, withTimeout } from '../helpers/async.ts';
import type { ConsulEntry } from '../../zone-control/src/kv/kv-entry.ts';
import { forEachBackend } from '../helpers/zone.ts';

type KvEntry = ConsulEntry;

forEachBackend('Consul KV API', (env) => {
  const kv = (method: string, path: string, body?: string): Promise<Response> =>
    fetch(`${env.zone.url}/v1/kv/${path}`, { method, body });

  async function entryOf(path: string): Promise<KvEntry> {
    const res = await kv('GET', path);
    expect(res.status).to.equal(200);
    return ((await res.json()) as KvEntry[])[0] as KvEntry;
  }

  it('sets, gets and deletes a key through the consul client', async function () {
    expect(await env.consul.kv.set('client/greeting', 'hello')).to.equal(true);
    const got = (await env.consul.kv.get('client/greeting')) as KvEntry;
    expect(got.Key).to.equal('client/greeting');
    expect(got.Value).to.equal('hello');
    expect(await env.consul.kv.del('client/greeting')).to.equal(true);
    expect(await env.consul.kv.get('client/greeting')).to.equal(undefined);
  });

  it("answers Consul's entry shape, field order and read headers", async function () {
    await kv('PUT', 'shape/a', 'value');
    const res = await kv('GET', 'shape/a');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('application/json');
    const [entry] = (await res.json()) as KvEntry[];
    expect(Object.keys(entry ?? {})).to.deep.equal([
      'LockIndex',
      'Key',
      'Flags',
      'Value',
      'CreateIndex',
      'ModifyIndex',
    ]);
    expect(entry).to.include({ LockIndex: 0, Key: 'shape/a', Flags: 0, Value: 'dmFsdWU=' });
    expect(entry?.CreateIndex).to.equal(entry?.ModifyIndex);
    expect(Number(res.headers.get('x-consul-index'))).to.be.at.least(entry?.ModifyIndex ?? 1);
    expect(res.headers.get('x-consul-knownleader')).to.equal('true');
    expect(res.headers.get('x-consul-lastcontact')).to.equal('0');
  });

  it('answers a missing key with 404, an empty body and the read headers', async function () {
    const res = await kv('GET', 'missing/key');
    expect(res.status).to.equal(404);
    expect(await res.text()).to.equal('');
    expect(Number(res.headers.get('x-consul-index'))).to.be.at.least(1);
    expect(res.headers.get('x-consul-knownleader')).to.equal('true');
  });

  it('answers an empty value as null, and the bytes themselves with ?raw', async function () {
    await kv('PUT', 'raw/empty', '');
    expect((await entryOf('raw/empty')).Value).to.equal(null);
    const bytes = Buffer.from([0, 1, 2, 250, 251, 0x3c]);
    await fetch(`${env.zone.url}/v1/kv/raw/bin`, { method: 'PUT', body: bytes });
    const res = await kv('GET', 'raw/bin?raw');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('text/plain');
    expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(res.headers.get('content-security-policy')).to.equal('sandbox');
    expect(Buffer.from(await res.arrayBuffer())).to.deep.equal(bytes);
  });

  it('decodes keys sent with %2F like raw slashes, and non-ASCII keys', async function () {
    await kv('PUT', 'enc%2Fa%2Fb', 'slashes');
    expect((await entryOf('enc/a/b')).Key).to.equal('enc/a/b');
    await kv('PUT', `enc/${encodeURIComponent('grüße ✓')}`, 'utf8');
    const got = (await env.consul.kv.get('enc/grüße ✓')) as KvEntry;
    expect(got.Value).to.equal('utf8');
    expect(await env.consul.kv.keys('enc/')).to.deep.equal(['enc/a/b', 'enc/grüße ✓']);
  });

  it('lists a tree recursively and keys folded at a separator, in key order', async function () {
    for (const k of ['tree/b', 'tree/a/x', 'tree/a/y', 'tree/c/z', 'tree-sibling']) {
      await env.consul.kv.set(k, k);
    }
    const all = (await env.consul.kv.get({ key: 'tree/', recurse: true })) as KvEntry[];
    expect(all.map((e) => e.Key)).to.deep.equal(['tree/a/x', 'tree/a/y', 'tree/b', 'tree/c/z']);
    expect(await env.consul.kv.keys('tree/')).to.deep.equal([
      'tree/a/x',
      'tree/a/y',
      'tree/b',
      'tree/c/z',
    ]);
    expect(await env.consul.kv.keys({ key: 'tree/', separator: '/' })).to.deep.equal([
      'tree/a/',
      'tree/b',
      'tree/c/',
    ]);
    // Consul's historic misspelling still works.
    const res = await kv('GET', 'tree/?keys&seperator=/');
    expect(await res.json()).to.deep.equal(['tree/a/', 'tree/b', 'tree/c/']);
  });

  it('answers 404 for an empty listing under a prefix, with headers', async function () {
    for (const q of ['nothing/?keys', 'nothing/?recurse']) {
      const res = await kv('GET', q);
      expect(res.status).to.equal(404);
      expect(await res.text()).to.equal('');
      expect(res.headers.get('x-consul-knownleader')).to.equal('true');
    }
  });

  it('writes with check-and-set only at the current index', async function () {
    expect(await env.consul.kv.set({ key: 'cas/a', value: 'one', cas: 0 })).to.equal(true);
    // The consul client turns a `false` body into undefined; check the wire with fetch.
    expect(await (await kv('PUT', 'cas/a?cas=0', 'two')).json()).to.equal(false);
    const first = await entryOf('cas/a');
    expect(
      await env.consul.kv.set({ key: 'cas/a', value: 'two', cas: first.ModifyIndex }),
    ).to.equal(true);
    const stale = await kv('PUT', `cas/a?cas=${first.ModifyIndex}`, 'three');
    expect(await stale.json()).to.equal(false);
    const second = await entryOf('cas/a');
    expect(Buffer.from(second.Value ?? '', 'base64').toString()).to.equal('two');
    expect(second.CreateIndex).to.equal(first.CreateIndex);
    expect(second.ModifyIndex).to.be.greaterThan(first.ModifyIndex);
  });

  it('deletes with check-and-set only at the current index', async function () {
    await kv('PUT', 'cas/del', 'x');
    const e = await entryOf('cas/del');
    const stale = await kv('DELETE', `cas/del?cas=${e.ModifyIndex - 1}`);
    expect(await stale.json()).to.equal(false);
    expect((await kv('GET', 'cas/del')).status).to.equal(200);
    const fresh = await kv('DELETE', `cas/del?cas=${e.ModifyIndex}`);
    expect(await fresh.json()).to.equal(true);
    expect((await kv('GET', 'cas/del')).status).to.equal(404);
  });

  it('stores flags and resets them to 0 on a write without flags', async function () {
    await env.consul.kv.set({ key: 'flags/a', value: 'v', flags: 42 });
    expect((await entryOf('flags/a')).Flags).to.equal(42);
    await kv('PUT', 'flags/a?flags=9007199254740991', 'v');
    expect((await entryOf('flags/a')).Flags).to.equal(9007199254740991);
    await kv('PUT', 'flags/a', 'v');
    expect((await entryOf('flags/a')).Flags).to.equal(0);
  });

  it('deletes a whole subtree with ?recurse and nothing beside it', async function () {
    for (const k of ['rm/a', 'rm/b/c', 'rmx']) await kv('PUT', k, 'v');
    expect(await env.consul.kv.del({ key: 'rm/', recurse: true })).to.equal(true);
    expect((await kv('GET', 'rm/?recurse')).status).to.equal(404);
    expect((await kv('GET', 'rmx')).status).to.equal(200);
  });

  it('holds a blocking GET until the key changes, then answers the new value', async function () {
    await kv('PUT', 'block/key', 'before');
    const first = await kv('GET', 'block/key');
    const index = first.headers.get('x-consul-index') ?? '0';
    const blocked = kv('GET', `block/key?index=${index}&wait=10s`);
    // A write elsewhere must not wake it.
    await kv('PUT', 'block/other', 'x');
    expect((await raceTimeout(blocked, 200)).timedOut).to.equal(true);
    await kv('PUT', 'block/key', 'after');
    const res = await withTimeout(blocked, 5000, 'blocking GET');
    const [entry] = (await res.json()) as KvEntry[];
    expect(Buffer.from(entry?.Value ?? '', 'base64').toString()).to.equal('after');
    expect(Number(res.headers.get('x-consul-index'))).to.be.greaterThan(Number(index));
  });

  it('wakes a blocking recursive GET on a write under its prefix', async function () {
    await kv('PUT', 'blocktree/a', '1');
    const first = await kv('GET', 'blocktree/?recurse');
    const index = first.headers.get('x-consul-index') ?? '0';
    const blocked = kv('GET', `blocktree/?recurse&index=${index}&wait=10s`);
    await kv('PUT', 'blocktree/b', '2');
    const res = await withTimeout(blocked, 5000, 'blocking recursive GET');
    expect(((await res.json()) as KvEntry[]).map((e) => e.Key)).to.deep.equal([
      'blocktree/a',
      'blocktree/b',
    ]);
  });

  it('answers a blocking GET at its wait time when nothing changes', async function () {
    await kv('PUT', 'block/idle', 'same');
    const index = (await kv('GET', 'block/idle')).headers.get('x-consul-index') ?? '0';
    const res = await kv('GET', `block/idle?index=${index}&wait=100ms`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('x-consul-index')).to.equal(index);
  });

  it('tells a consul.watch on a key about each change', async function () {
    await env.consul.kv.set('watched/key', 'v1');
    const watch = env.consul.watch({
      method: env.consul.kv.get.bind(env.consul.kv),
      options: { key: 'watched/key', wait: '5s' },
    });
    try {
      const seen: string[] = [];
      const changed = new Promise<void>((resolve, reject) => {
        watch.on('change', (data: KvEntry | undefined) => {
          seen.push(data?.Value ?? '(none)');
          if (seen.includes('v2')) resolve();
        });
        watch.on('error', reject);
      });
      // The first change event is the current value; then the update.
      await new Promise((resolve) => watch.once('change', resolve));
      await env.consul.kv.set('watched/key', 'v2');
      await withTimeout(changed, 5000, 'watch change');
      expect(seen).to.deep.equal(['v1', 'v2']);
    } finally {
      watch.end();
    }
  });
});

/**
 * Global KV at a zone, against a scripted global (real TLS, real sync frames): global
 * keys are read from the zone's replica (blocking queries included, with the replica's
 * age in the headers), written through to global (and read back at once at the zone),
 * refused clearly where a zone cannot write them, and answered 503 with global away.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Consul from 'consul';
import { expect } from 'chai';
import { kvResourceName } from '../../../core/index.ts';
import type { ConsulEntry } from '../../../zone-control/src/kv/kv-entry.ts';
import { eventually, raceTimeout, sleep, withTimeout } from '../../helpers/async.ts';
import { startZone } from '../../helpers/zone.ts';
import type { TestZone } from '../../helpers/zone.ts';
import { ScriptedGlobal } from '../sync/scripted-global.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('global KV at a zone (scripted global, integration)', function () {
  this.timeout(60_000);
  let global: ScriptedGlobal;
  let dir: string;
  const zones: TestZone[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cw-gkv-'));
    global = await ScriptedGlobal.start({ prefixes: ['global/'] });
  });

  afterEach(async () => {
    await Promise.all(zones.splice(0).map((z) => z.stop().catch(() => undefined)));
    await global.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function joinZone(name = 'east', token = true): Promise<TestZone> {
    const zone = await startZone({
      name,
      dataDir: path.join(dir, name),
      globalAddr: global.url,
      zoneToken: token ? global.token(name) : undefined,
    });
    zones.push(zone);
    await connected(zone);
    return zone;
  }

  async function connected(zone: TestZone): Promise<void> {
    await eventually(() => zone.zone.globalSync?.contact().knownLeader, 'zone sync up');
  }

  const kv = (zone: TestZone, method: string, p: string, body?: string): Promise<Response> =>
    fetch(`${zone.url}/v1/kv/${p}`, { method, body });

  async function valueAt(zone: TestZone, key: string): Promise<string | undefined> {
    const res = await kv(zone, 'GET', key);
    if (res.status === 404) return undefined;
    const [entry] = (await res.json()) as ConsulEntry[];
    return Buffer.from(entry?.Value ?? '', 'base64').toString();
  }

  it('records the last contact with global while connected, so a crash does not reset the replica age', async () => {
    const zone = await joinZone();
    // Recorded at once on connecting, and refreshed while connected: a zone killed now
    // (no orderly close to record it) still knows when it last heard from global.
    const recorded = await eventually(
      () => zone.zone.store.get('sync/last-contact'),
      'sync/last-contact while connected',
    );
    expect(Number(recorded?.value.toString())).to.be.within(Date.now() - 60_000, Date.now());
    expect(zone.zone.globalSync?.contact().knownLeader).to.equal(true);
  });

  it('serves global keys from the replica: reads, listings and blocking queries, with its age in the headers', async () => {
    global.set('global/a', 'one', 7);
    const east = await joinZone();
    await eventually(async () => (await valueAt(east, 'global/a')) === 'one', 'replica has a');
    const res = await kv(east, 'GET', 'global/a');
    const [entry] = (await res.json()) as ConsulEntry[];
    expect(Object.keys(entry ?? {})).to.deep.equal([
      'LockIndex',
      'Key',
      'Flags',
      'Value',
      'CreateIndex',
      'ModifyIndex',
    ]);
    expect(entry).to.include({ Key: 'global/a', Flags: 7, LockIndex: 0, Value: b64('one') });
    expect(res.headers.get('x-consul-knownleader')).to.equal('true');
    const lastContact = Number(res.headers.get('x-consul-lastcontact'));
    // Global's pongs arrive every heartbeat (1 s here).
    expect(lastContact).to.be.within(0, 10_000);
    // A zone key keeps its own headers.
    expect((await kv(east, 'PUT', 'app/x', 'mine')).status).to.equal(200);
    const local = await kv(east, 'GET', 'app/x');
    expect(local.headers.get('x-consul-lastcontact')).to.equal('0');
    expect(local.headers.get('x-consul-knownleader')).to.equal('true');
    expect(await (await kv(east, 'GET', '?keys')).json()).to.deep.equal(['app/x', 'global/a']);
    const tree = (await (await kv(east, 'GET', 'global/?recurse')).json()) as ConsulEntry[];
    expect(tree.map((e) => e.Key)).to.deep.equal(['global/a']);
    // Nothing of the zone's own went to global.
    expect(global.writes).to.deep.equal([]);

    // A blocking query on a global key wakes when global changes it.
    const index = res.headers.get('x-consul-index') ?? '0';
    const blocked = kv(east, 'GET', `global/a?index=${index}&wait=30s`);
    expect((await raceTimeout(blocked, 300)).timedOut).to.equal(true);
    global.set('global/a', 'two');
    const woke = await withTimeout(blocked, 10_000, 'the blocking query');
    const [changed] = (await woke.json()) as ConsulEntry[];
    expect(changed?.Value).to.equal(b64('two'));
    expect(Number(woke.headers.get('x-consul-index'))).to.be.above(Number(index));

    global.delete('global/a');
    await eventually(async () => (await valueAt(east, 'global/a')) === undefined, 'a removed');
  });

  it('writes a global key at global through the consul client and reads it back at once', async () => {
    const east = await joinZone();
    const consul = new Consul({ host: east.host, port: east.port });
    expect(await consul.kv.set('global/x', 'hello')).to.equal(true);
    expect(global.writes.map((w) => w.op)).to.deep.equal([
      { verb: 'set', key: 'global/x', value: b64('hello'), flags: 0 },
    ]);
    expect(global.kv.get('global/x')?.value).to.equal(b64('hello'));
    // Read-your-write at the zone that wrote: no waiting.
    const got = (await consul.kv.get('global/x')) as { Value: string; Flags: number };
    expect(got.Value).to.equal('hello');
    expect(await consul.kv.set({ key: 'global/f', value: 'v', flags: 42 })).to.equal(true);
    expect(((await consul.kv.get('global/f')) as { Flags: number }).Flags).to.equal(42);
    expect(await consul.kv.del('global/x')).to.equal(true);
    expect(global.kv.has('global/x')).to.equal(false);
    expect(await consul.kv.get('global/x')).to.equal(undefined);
    // Zone keys stay at the zone.
    const before = global.writes.length;
    expect(await consul.kv.set('app/y', 'local')).to.equal(true);
    expect(global.writes.length).to.equal(before);
  });

  it("translates check-and-set indexes: the client's is the zone's, global compares its own", async () => {
    const east = await joinZone();
    expect(await (await kv(east, 'PUT', 'global/c', 'v1')).json()).to.equal(true);
    const globalIndex = global.kv.get('global/c')?.modifyIndex;
    const [seen] = (await (await kv(east, 'GET', 'global/c')).json()) as ConsulEntry[];
    const zoneIndex = seen?.ModifyIndex ?? 0;
    expect(zoneIndex).to.not.equal(globalIndex);

    expect(await (await kv(east, 'PUT', `global/c?cas=${zoneIndex}`, 'v2')).json()).to.equal(true);
    expect(global.writes.at(-1)?.op).to.deep.equal({
      verb: 'cas',
      key: 'global/c',
      value: b64('v2'),
      flags: 0,
      index: globalIndex,
    });
    expect(await valueAt(east, 'global/c')).to.equal('v2');

    // A stale index fails here, as Consul would answer, without asking global.
    const sent = global.writes.length;
    expect(await (await kv(east, 'PUT', `global/c?cas=${zoneIndex}`, 'v3')).json()).to.equal(false);
    expect(await (await kv(east, 'DELETE', `global/c?cas=${zoneIndex}`)).json()).to.equal(false);
    expect(global.writes.length).to.equal(sent);
    // cas=0 ("only if absent") is global's to decide: the key exists there.
    expect(await (await kv(east, 'PUT', 'global/c?cas=0', 'v4')).json()).to.equal(false);
    expect(global.writes.at(-1)?.op).to.deep.include({ verb: 'cas', index: 0 });
    expect(await valueAt(east, 'global/c')).to.equal('v2');

    const [now] = (await (await kv(east, 'GET', 'global/c')).json()) as ConsulEntry[];
    expect(await (await kv(east, 'DELETE', `global/c?cas=${now?.ModifyIndex}`)).json()).to.equal(
      true,
    );
    expect(global.writes.at(-1)?.op).to.deep.equal({
      verb: 'delete-cas',
      key: 'global/c',
      index: global.index - 1,
    });
    expect(await valueAt(east, 'global/c')).to.equal(undefined);
  });

  it('refuses what a zone cannot do with global keys, clearly and writing nothing', async () => {
    global.set('global/sub/a', 'a');
    global.set('global/sub/b', 'b');
    global.set('global/other', 'o');
    const east = await joinZone();
    await eventually(async () => (await valueAt(east, 'global/other')) === 'o', 'replica');
    await kv(east, 'PUT', 'app/z', 'zone');
    const session = (await (
      await fetch(`${east.url}/v1/session/create`, { method: 'PUT', body: '{}' })
    ).json()) as { ID: string };

    const acquire = await kv(east, 'PUT', `global/lock?acquire=${session.ID}`, 'me');
    expect(acquire.status).to.equal(400);
    expect(await acquire.text()).to.equal(
      'key "global/lock" is under global prefix "global/": sessions are local to a zone, so a global key cannot be locked (?acquire) or released (?release); lock a zone key instead\n',
    );
    for (const prefix of ['', 'glo']) {
      const res = await kv(east, 'DELETE', `${prefix}?recurse`);
      expect(res.status).to.equal(400);
      expect(await res.text()).to.equal(
        `cannot delete keys under ${JSON.stringify(prefix)} recursively: that reaches into global prefix "global/", whose keys only the global control plane deletes; delete "global/" separately (nothing was deleted)\n`,
      );
    }
    expect(await valueAt(east, 'app/z')).to.equal('zone');
    expect(global.writes).to.deep.equal([]);

    // A tree inside the global prefix is global's to delete.
    expect(await (await kv(east, 'DELETE', 'global/sub/?recurse')).json()).to.equal(true);
    expect(global.writes.map((w) => w.op)).to.deep.equal([
      { verb: 'delete-tree', key: 'global/sub/' },
    ]);
    expect([...global.kv.keys()]).to.deep.equal(['global/other']);
    expect(await (await kv(east, 'GET', '?keys')).json()).to.deep.equal(['app/z', 'global/other']);

    // Transactions write zone keys only.
    const txn = (ops: unknown[]): Promise<Response> =>
      fetch(`${east.url}/v1/txn`, { method: 'PUT', body: JSON.stringify(ops) });
    const mixed = await txn([
      { KV: { Verb: 'set', Key: 'app/t', Value: b64('t') } },
      { KV: { Verb: 'set', Key: 'global/t', Value: b64('t') } },
      { KV: { Verb: 'delete-tree', Key: '' } },
    ]);
    expect(mixed.status).to.equal(409);
    expect(await mixed.json()).to.deep.equal({
      Results: null,
      Errors: [
        {
          OpIndex: 1,
          What: 'key "global/t" is under global prefix "global/": write global keys with /v1/kv; a transaction at a zone writes zone keys only',
        },
        {
          OpIndex: 2,
          What: 'delete-tree of "" reaches into global prefix "global/": write global keys with /v1/kv; a transaction at a zone writes zone keys only',
        },
      ],
    });
    expect(await valueAt(east, 'app/t')).to.equal(undefined);
    // Reads of global keys in a transaction come from the replica, with its headers.
    const read = await txn([{ KV: { Verb: 'get', Key: 'global/other' } }]);
    expect(read.status).to.equal(200);
    const body = (await read.json()) as { Results: { KV: ConsulEntry }[] };
    expect(body.Results[0]?.KV.Value).to.equal(b64('o'));
    expect(read.headers.get('x-consul-knownleader')).to.equal('true');
    expect(global.writes).to.have.length(1);
  });

  it('with global away, answers 503 to global writes and keeps serving global reads with a growing LastContact', async () => {
    global.set('global/r', 'kept');
    const east = await joinZone();
    await eventually(async () => (await valueAt(east, 'global/r')) === 'kept', 'replica');
    await global.stop();
    await eventually(() => east.zone.globalSync?.status().connected === false, 'sync down');

    const put = await kv(east, 'PUT', 'global/r', 'new');
    expect(put.status).to.equal(503);
    expect(await put.text()).to.equal(
      'global KV is read-only at this zone while the global control plane is unreachable: key "global/r" is under global prefix "global/"; retry when zone sync is back (GET /api/federation)\n',
    );
    const del = await kv(east, 'DELETE', 'global/?recurse');
    expect(del.status).to.equal(503);
    expect(await del.text()).to.match(/keys under "global\/" are under global prefix "global\/"/);
    const consul = new Consul({ host: east.host, port: east.port });
    let error: unknown;
    try {
      await consul.kv.set('global/r', 'client');
    } catch (err) {
      error = err;
    }
    // The client surfaces the status (it keeps only short texts as its message).
    const failure = error as { statusCode?: number; response?: { body?: unknown } };
    expect(failure.statusCode).to.equal(503);
    expect(String(failure.response?.body)).to.match(/read-only at this zone/);

    const first = await kv(east, 'GET', 'global/r');
    expect(first.status).to.equal(200);
    expect(first.headers.get('x-consul-knownleader')).to.equal('false');
    const before = Number(first.headers.get('x-consul-lastcontact'));
    await sleep(300);
    const later = await kv(east, 'GET', 'global/?recurse');
    expect(later.status).to.equal(200);
    expect(later.headers.get('x-consul-knownleader')).to.equal('false');
    expect(Number(later.headers.get('x-consul-lastcontact'))).to.be.at.least(before + 250);
    expect(await valueAt(east, 'global/r')).to.equal('kept');
    // Zone keys are untouched by any of it.
    expect(await (await kv(east, 'PUT', 'app/q', 'zone')).json()).to.equal(true);
    const zoneRead = await kv(east, 'GET', 'app/q');
    expect(zoneRead.headers.get('x-consul-knownleader')).to.equal('true');
    expect(zoneRead.headers.get('x-consul-lastcontact')).to.equal('0');

    // Global returns: writes go through again.
    await global.listen();
    await connected(east);
    expect(await (await kv(east, 'PUT', 'global/r', 'back')).json()).to.equal(true);
    expect(await valueAt(east, 'global/r')).to.equal('back');
  });

  it('answers 503 saying the write may have applied when global drops the connection or never answers', async () => {
    const east = await joinZone();
    global.writeMode = 'drop-connection';
    const dropped = await kv(east, 'PUT', 'global/d', 'x');
    expect(dropped.status).to.equal(503);
    expect(await dropped.text()).to.equal(
      `the zone's connection to the global control plane closed before global answered the write of key "global/d" (global prefix "global/"); it may have been applied: read the key before retrying\n`,
    );
    global.writeMode = 'ignore';
    await connected(east);
    const started = Date.now();
    const silent = await kv(east, 'PUT', 'global/s', 'x');
    expect(silent.status).to.equal(503);
    expect(await silent.text()).to.equal(
      'the global control plane did not answer the write of key "global/s" (global prefix "global/") within 10 s; it may still apply it: read the key before retrying\n',
    );
    expect(Date.now() - started).to.be.at.least(9_000);
  });

  it("passes on global's refusal with its status", async () => {
    const east = await joinZone();
    global.writeMode = () => ({
      ok: false,
      index: 0,
      error: {
        code: 'CW_ERR_INVALID_ARGUMENT',
        message: 'key "global/x" is not under a global prefix',
        field: 'op.key',
      },
    });
    const res = await kv(east, 'PUT', 'global/x', 'v');
    expect(res.status).to.equal(400);
    expect(await res.text()).to.equal(
      'the global control plane refused the write of key "global/x": key "global/x" is not under a global prefix\n',
    );
    global.writeMode = () => ({
      ok: false,
      index: 0,
      error: { code: 'CW_ERR_STORE_UNAVAILABLE', message: 'store down' },
    });
    expect((await kv(east, 'DELETE', 'global/x')).status).to.equal(503);
  });

  it('deletes once the keys a zone held under a prefix before it became global; global keys replace them', async () => {
    global.prefixes = [];
    const east = await joinZone();
    for (const key of ['global/old', 'global/kept', 'app/z']) {
      expect(await (await kv(east, 'PUT', key, 'zone')).json()).to.equal(true);
    }
    expect(global.writes).to.deep.equal([]);
    expect((await east.zone.store.get('sync/kv-scopes'))?.value.toString()).to.equal('[]');

    await global.stop();
    global.prefixes = ['global/'];
    global.kv.set('global/kept', { value: b64('from global'), flags: 0, modifyIndex: 500 });
    await global.listen();
    await eventually(
      async () => (await valueAt(east, 'global/kept')) === 'from global',
      'global key replaces the zone one',
    );
    await eventually(async () => (await valueAt(east, 'global/old')) === undefined, 'old gone');
    expect(await valueAt(east, 'app/z')).to.equal('zone');
    expect((await east.zone.store.get('sync/kv-scopes'))?.value.toString()).to.equal('["global/"]');
    expect(east.zone.globalSync?.status().kvGlobalPrefixes).to.deep.equal(['global/']);
  });

  it('after a restart with global down, still knows its global keys: reads served, writes 503', async () => {
    global.set('global/p', 'v');
    let east = await joinZone();
    await eventually(async () => (await valueAt(east, 'global/p')) === 'v', 'replica');
    await east.stop();
    zones.splice(zones.indexOf(east), 1);
    const stoppedAt = Date.now();
    await global.stop();
    east = await startZone({
      name: 'east',
      dataDir: path.join(dir, 'east'),
      globalAddr: global.url,
    });
    zones.push(east);
    const res = await kv(east, 'GET', 'global/p');
    expect(res.status).to.equal(200);
    expect(res.headers.get('x-consul-knownleader')).to.equal('false');
    expect(Number(res.headers.get('x-consul-lastcontact'))).to.be.at.least(
      Date.now() - stoppedAt - 50,
    );
    const put = await kv(east, 'PUT', 'global/p', 'local?');
    expect(put.status).to.equal(503);
    expect(await valueAt(east, 'global/p')).to.equal('v');
  });

  it('refuses a kv resource for a key outside the global prefixes: a zone key is never overwritten', async () => {
    const east = await joinZone();
    expect(await (await kv(east, 'PUT', 'app/own', 'mine')).json()).to.equal(true);
    global.extraKv = [
      {
        name: kvResourceName('app/own'),
        body: { key: 'app/own', value: b64('theirs'), flags: 0, modifyIndex: 5 },
      },
    ];
    global.push();
    const nack = await eventually(
      () => global.nacks.find((n) => n.resourceType === 'kv'),
      'a NACK for the kv delta',
    );
    expect(nack.message).to.match(
      /key "app\/own" is not under a global KV prefix this zone was given \("global\/"\); it is a zone key here/,
    );
    expect(await valueAt(east, 'app/own')).to.equal('mine');
  });

  it('a standalone zone owns every key, global/ included', async () => {
    const solo = await startZone({ name: 'solo' });
    zones.push(solo);
    expect(await (await kv(solo, 'PUT', 'global/x', 'v')).json()).to.equal(true);
    const read = await kv(solo, 'GET', 'global/x');
    expect(read.headers.get('x-consul-knownleader')).to.equal('true');
    expect(read.headers.get('x-consul-lastcontact')).to.equal('0');
    expect(await (await kv(solo, 'DELETE', '?recurse')).json()).to.equal(true);
    expect(await valueAt(solo, 'global/x')).to.equal(undefined);
  });
});

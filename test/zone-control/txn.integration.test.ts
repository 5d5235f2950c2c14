/**
 * `/v1/txn` on a real zone: every KV verb, Consul's result and error shapes, atomicity
 * (a failing op leaves nothing written), locks inside transactions, and read-only
 * transactions' headers — through the `consul` npm client and raw HTTP, on embedded and
 * Redis.
 */
import { expect } from 'chai';
import type { ConsulEntry } from '../../zone-control/src/kv/kv-entry.ts';
import { forEachBackend } from '../helpers/zone.ts';

type KvEntry = ConsulEntry;
interface TxnAnswer {
  Results: { KV: KvEntry }[] | null;
  Errors: { OpIndex: number; What: string }[] | null;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

forEachBackend('Consul transactions', (env) => {
  /** PUT /v1/txn with `ops` as `{ KV: op }` each; answers status, headers and body. */
  async function txn(
    ops: Record<string, unknown>[],
  ): Promise<{ status: number; headers: Headers; body: TxnAnswer }> {
    const res = await fetch(`${env.zone.url}/v1/txn`, {
      method: 'PUT',
      body: JSON.stringify(ops.map((KV) => ({ KV }))),
    });
    expect(res.headers.get('content-type')).to.equal('application/json');
    return { status: res.status, headers: res.headers, body: (await res.json()) as TxnAnswer };
  }

  async function session(): Promise<string> {
    const res = await fetch(`${env.zone.url}/v1/session/create`, { method: 'PUT' });
    return ((await res.json()) as { ID: string }).ID;
  }

  it('applies writes and reads in one go and answers Consul result shapes', async function () {
    // The client's typings describe another call shape than its code takes: an array of
    // Consul-format ops.
    const create = env.consul.transaction.create.bind(env.consul.transaction) as unknown as (
      ops: unknown[],
    ) => Promise<TxnAnswer>;
    const res = await create([
      { KV: { Verb: 'set', Key: 'tx/a', Value: b64('one'), Flags: 5 } },
      { KV: { Verb: 'set', Key: 'tx/b', Value: b64('two') } },
      { KV: { Verb: 'get', Key: 'tx/a' } },
    ]);
    expect(res.Errors).to.equal(null);
    const [setA, setB, getA] = res.Results ?? [];
    expect(Object.keys(setA?.KV ?? {})).to.deep.equal([
      'LockIndex',
      'Key',
      'Flags',
      'Value',
      'CreateIndex',
      'ModifyIndex',
    ]);
    // Write results carry no value; a get carries it.
    expect(setA?.KV).to.include({ Key: 'tx/a', Flags: 5, Value: null });
    expect(setB?.KV).to.include({ Key: 'tx/b', Value: null });
    expect(getA?.KV).to.include({ Key: 'tx/a', Value: b64('one'), Flags: 5 });
    // One transaction, one index.
    expect(setA?.KV.ModifyIndex).to.equal(setB?.KV.ModifyIndex);
    expect(((await env.consul.kv.get('tx/b')) as KvEntry).Value).to.equal('two');
  });

  it('writes nothing and answers 409 with every failing op when a check fails', async function () {
    await env.consul.kv.set('tx409/existing', 'x');
    const { status, body } = await txn([
      { Verb: 'set', Key: 'tx409/new', Value: b64('never') },
      { Verb: 'check-index', Key: 'tx409/existing', Index: 1 },
      { Verb: 'check-not-exists', Key: 'tx409/existing' },
      { Verb: 'get', Key: 'tx409/missing' },
    ]);
    expect(status).to.equal(409);
    expect(body.Results).to.equal(null);
    const current = ((await env.consul.kv.get('tx409/existing')) as KvEntry).ModifyIndex;
    expect(body.Errors).to.deep.equal([
      {
        OpIndex: 1,
        What: `failed index check for key "tx409/existing", current modify index ${current} != 1`,
      },
      { OpIndex: 2, What: 'key "tx409/existing" exists' },
      { OpIndex: 3, What: 'key "tx409/missing" doesn\'t exist' },
    ]);
    expect(await env.consul.kv.get('tx409/new')).to.equal(undefined);
  });

  it('checks indexes and sessions, answering the checked entry without its value', async function () {
    await env.consul.kv.set('txc/k', 'v');
    const e = (await env.consul.kv.get('txc/k')) as KvEntry;
    const ok = await txn([
      { Verb: 'check-index', Key: 'txc/k', Index: e.ModifyIndex },
      { Verb: 'check-session', Key: 'txc/k' },
    ]);
    expect(ok.status).to.equal(200);
    expect(ok.body.Results?.map((r) => r.KV)).to.deep.equal([
      { ...e, Value: null },
      { ...e, Value: null },
    ]);
    const bad = await txn([
      { Verb: 'check-session', Key: 'txc/k', Session: 'someone' },
      { Verb: 'check-index', Key: 'txc/none', Index: 3 },
      { Verb: 'check-session', Key: 'txc/none', Session: 'x' },
    ]);
    expect(bad.status).to.equal(409);
    expect(bad.body.Errors).to.deep.equal([
      {
        OpIndex: 0,
        What: 'failed session check for key "txc/k", current session "" != "someone"',
      },
      { OpIndex: 1, What: 'failed to check index, key "txc/none" doesn\'t exist' },
      { OpIndex: 2, What: 'failed to check session, key "txc/none" doesn\'t exist' },
    ]);
  });

  it('does cas, delete-cas, delete, get-tree, get-or-empty and delete-tree', async function () {
    await env.consul.kv.set('txv/a', '1');
    await env.consul.kv.set('txv/b/c', '2');
    const a = (await env.consul.kv.get('txv/a')) as KvEntry;
    const stale = await txn([
      { Verb: 'cas', Key: 'txv/a', Value: b64('x'), Index: a.ModifyIndex + 1000 },
      { Verb: 'delete-cas', Key: 'txv/a', Index: a.ModifyIndex + 1000 },
    ]);
    expect(stale.body.Errors).to.deep.equal([
      { OpIndex: 0, What: 'failed to set key "txv/a", index is stale' },
      { OpIndex: 1, What: 'failed to delete key "txv/a", index is stale' },
    ]);
    const ok = await txn([
      { Verb: 'cas', Key: 'txv/a', Value: b64('3'), Index: a.ModifyIndex },
      { Verb: 'cas', Key: 'txv/new', Value: b64('n'), Index: 0 },
      { Verb: 'get-tree', Key: 'txv/' },
      { Verb: 'get-or-empty', Key: 'txv/nothing', Flags: 9 },
      { Verb: 'delete', Key: 'txv/new' },
    ]);
    expect(ok.status).to.equal(200);
    const results = ok.body.Results ?? [];
    expect(results.map((r) => [r.KV.Key, r.KV.Value])).to.deep.equal([
      ['txv/a', null],
      ['txv/new', null],
      // get-tree sees the writes before it in the same transaction.
      ['txv/a', b64('3')],
      ['txv/b/c', b64('2')],
      ['txv/new', b64('n')],
      ['txv/nothing', null],
    ]);
    expect(results[5]?.KV).to.deep.equal({
      LockIndex: 0,
      Key: 'txv/nothing',
      Flags: 9,
      Value: null,
      CreateIndex: 0,
      ModifyIndex: 0,
    });
    expect(await env.consul.kv.get('txv/new')).to.equal(undefined);
    const cur = (await env.consul.kv.get('txv/a')) as KvEntry;
    const del = await txn([
      { Verb: 'delete-cas', Key: 'txv/a', Index: cur.ModifyIndex },
      { Verb: 'delete-tree', Key: 'txv/b/' },
    ]);
    expect(del.status).to.equal(200);
    expect(del.body.Results).to.deep.equal([]);
    expect(await env.consul.kv.keys('txv/').catch(() => [])).to.deep.equal([]);
  });

  it('locks and unlocks keys inside transactions like KV acquire and release', async function () {
    const a = await session();
    const b = await session();
    const locked = await txn([
      { Verb: 'set', Key: 'txl/k', Value: b64('pre') },
      { Verb: 'lock', Key: 'txl/k', Value: b64('held'), Session: a },
      { Verb: 'lock', Key: 'txl/k', Value: b64('again'), Session: a },
    ]);
    expect(locked.status).to.equal(200);
    expect(locked.body.Results?.map((r) => [r.KV.Session, r.KV.LockIndex])).to.deep.equal([
      [undefined, 0],
      [a, 1],
      [a, 1],
    ]);
    const taken = await txn([
      { Verb: 'lock', Key: 'txl/k', Session: b },
      { Verb: 'unlock', Key: 'txl/k', Session: b },
    ]);
    expect(taken.status).to.equal(409);
    expect(taken.body.Errors).to.deep.equal([
      { OpIndex: 0, What: 'failed to lock key "txl/k", lock is already held' },
      {
        OpIndex: 1,
        What: 'failed to unlock key "txl/k", lock isn\'t held, or is held by another session',
      },
    ]);
    const handover = await txn([
      { Verb: 'unlock', Key: 'txl/k', Value: b64('free'), Session: a },
      { Verb: 'lock', Key: 'txl/k', Value: b64('b has it'), Session: b },
    ]);
    expect(handover.status).to.equal(200);
    const e = (await env.consul.kv.get('txl/k')) as KvEntry;
    expect(e).to.include({ Session: b, LockIndex: 2, Value: 'b has it' });
  });

  it('refuses a lock for an unknown session and during lock-delay', async function () {
    const unknown = '00000000-0000-4000-8000-00000000abcd';
    const bad = await txn([{ Verb: 'lock', Key: 'txd/k', Session: unknown }]);
    expect(bad.status).to.equal(409);
    expect(bad.body.Errors).to.deep.equal([{ OpIndex: 0, What: `invalid session "${unknown}"` }]);
    const a = await session();
    await txn([{ Verb: 'lock', Key: 'txd/k', Session: a }]);
    await env.consul.session.destroy(a);
    const b = await session();
    const delayed = await txn([{ Verb: 'lock', Key: 'txd/k', Session: b }]);
    expect(delayed.status).to.equal(409);
    expect(delayed.body.Errors).to.deep.equal([
      { OpIndex: 0, What: 'failed to lock key "txd/k" due to lock delay' },
    ]);
  });

  it('answers a read-only transaction with leader headers and no index', async function () {
    await env.consul.kv.set('txr/a', 'r');
    const { status, headers, body } = await txn([{ Verb: 'get', Key: 'txr/a' }]);
    expect(status).to.equal(200);
    expect(headers.get('x-consul-knownleader')).to.equal('true');
    expect(headers.get('x-consul-lastcontact')).to.equal('0');
    expect(headers.get('x-consul-index')).to.equal(null);
    expect(body.Results?.[0]?.KV.Value).to.equal(b64('r'));
  });
});

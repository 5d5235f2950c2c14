/**
 * The zone's replica of global KV: `kv` resources mirrored to `kv/<key>` through the
 * inbox, refused when outside the global prefixes, and the one-time removal of the
 * zone's own keys under a prefix that became global.
 */
import { expect } from 'chai';
import { pino } from 'pino';
import {
  KvScopes,
  ResourceInbox,
  globalResourceValidators,
  kvResourceName,
  openStore,
} from '../../../core/index.ts';
import type { GlobalResourceType, Store, TxnOp } from '../../../core/index.ts';
import {
  kvProjection,
  removeStrayKeys,
  scopedKvValidator,
} from '../../../zone-control/src/sync/kv-projection.ts';
import { syncDelta } from '../../helpers/sync-delta.ts';

const logger = pino({ level: 'silent' });
const b64 = (s: string): string => Buffer.from(s).toString('base64');

function item(key: string, value: string, flags = 0, modifyIndex = 1) {
  return {
    name: kvResourceName(key),
    version: `${key}=${value}@${modifyIndex}`,
    body: { key, value: b64(value), flags, modifyIndex },
  };
}

/** The store entry of a replica record, written as the inbox would. */
function replicaSet(key: string, value: string): TxnOp[] {
  const { name, version, body } = item(key, value);
  const stored = { version, body, receivedAt: new Date().toISOString() };
  return [
    { op: 'set', key: `sync/global/kv/${name}`, value: Buffer.from(JSON.stringify(stored)) },
    { op: 'set', key: `kv/${key}`, value: Buffer.from(value) },
  ];
}

describe('zone KV replica (projection and stray keys)', () => {
  let store: Store;
  let scopes: KvScopes;
  let inbox: ResourceInbox<GlobalResourceType>;

  beforeEach(async () => {
    store = await openStore('memory', {});
    scopes = new KvScopes(['global/']);
    inbox = new ResourceInbox<GlobalResourceType>({
      store,
      prefix: (type) => `sync/global/${type}/`,
      revisionKey: (type) => `sync/rev/global/${type}`,
      validators: { ...globalResourceValidators, kv: scopedKvValidator(() => scopes) },
      projections: { kv: kvProjection(store, logger) },
      logger,
    });
  });

  afterEach(async () => {
    await store.close();
  });

  it('mirrors a kv resource to kv/<key> with its value and flags, clearing a session', async () => {
    // A zone key held by a session before the prefix became global.
    await store.put('kv/global/a', Buffer.from('old'), { session: 'sess-1', lockIndex: 3 });
    const ack = await inbox.apply(syncDelta('kv', { upserts: [item('global/a', 'one', 9)] }));
    expect(ack?.type).to.equal('ack');
    const mirror = await store.get('kv/global/a');
    expect(mirror?.value.toString()).to.equal('one');
    expect(mirror?.flags).to.equal(9);
    expect(mirror?.session).to.equal(undefined);
    expect(mirror?.lockIndex).to.equal(0);
    // Written in the same transaction as the record: one ModifyIndex.
    const record = await store.get(`sync/global/kv/${kvResourceName('global/a')}`);
    expect(record?.modifyIndex).to.equal(mirror?.modifyIndex);
  });

  it('removes the mirror with the resource, and only the mirror', async () => {
    await store.put('kv/app/x', Buffer.from('zone'));
    await inbox.apply(
      syncDelta('kv', { upserts: [item('global/a', 'one'), item('global/b', 'two')] }),
    );
    await inbox.apply(syncDelta('kv', { upserts: [item('global/b', 'two')] }));
    expect(await store.get('kv/global/a')).to.equal(null);
    expect((await store.get('kv/global/b'))?.value.toString()).to.equal('two');
    expect((await store.get('kv/app/x'))?.value.toString()).to.equal('zone');
  });

  it('refuses a resource whose key is outside the global prefixes, keeping the zone key', async () => {
    await store.put('kv/app/x', Buffer.from('zone'));
    const answer = await inbox.apply(syncDelta('kv', { upserts: [item('app/x', 'theirs')] }));
    expect(answer?.type).to.equal('nack');
    expect(answer && 'message' in answer ? answer.message : '').to.match(
      /key "app\/x" is not under a global KV prefix this zone was given \("global\/"\); it is a zone key here/,
    );
    expect((await store.get('kv/app/x'))?.value.toString()).to.equal('zone');
    scopes = KvScopes.standalone;
    const none = await inbox.apply(syncDelta('kv', { upserts: [item('global/a', 'x')] }));
    expect(none && 'message' in none ? none.message : '').to.match(/\(none\)/);
  });

  it("deletes the zone's own keys under new global prefixes, never a replicated one or another prefix's", async () => {
    const ops: TxnOp[] = [...replicaSet('global/kept', 'from global')];
    for (let i = 0; i < 40; i++) {
      ops.push({
        op: 'set',
        key: `kv/global/stray-${String(i).padStart(2, '0')}`,
        value: Buffer.from('z'),
      });
    }
    await store.txn(ops);
    await store.put('kv/globalish', Buffer.from('z'));
    await store.put('kv/app/x', Buffer.from('z'));
    expect(await removeStrayKeys(store, ['global/'])).to.equal(40);
    const { entries } = await store.list('kv/');
    expect(entries.map((e) => e.key)).to.deep.equal(['kv/app/x', 'kv/global/kept', 'kv/globalish']);
    expect(await removeStrayKeys(store, ['global/'])).to.equal(0);
  });

  it('keeps a key whose replica arrives while the stray keys are being removed', async () => {
    await store.txn([
      { op: 'set', key: 'kv/global/a', value: Buffer.from('zone') },
      { op: 'set', key: 'kv/global/b', value: Buffer.from('zone') },
    ]);
    // Global's version of global/a lands between the listing and the guarded delete.
    let raced = false;
    const racing: Store = Object.create(store) as Store;
    racing.txn = async (txnOps) => {
      if (!raced) {
        raced = true;
        await store.txn(replicaSet('global/a', 'from global'));
      }
      return store.txn(txnOps);
    };
    expect(await removeStrayKeys(racing, ['global/'])).to.equal(1);
    expect((await store.get('kv/global/a'))?.value.toString()).to.equal('from global');
    expect(await store.get('kv/global/b')).to.equal(null);
  });
});

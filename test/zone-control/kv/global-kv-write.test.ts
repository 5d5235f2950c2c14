/**
 * A write of a global key made at a zone, against a stand-in for the sync client and a
 * real store holding the replica: check-and-set translation, waiting for the replica,
 * and the answers when global is away or refuses.
 */
import { expect } from 'chai';
import { pino } from 'pino';
import { KvScopes, kvResourceName, openStore } from '../../../core/index.ts';
import type {
  KvWriteOp,
  KvWrittenMessage,
  Store,
  StoredResource,
  KvResource,
} from '../../../core/index.ts';
import { KvForwardError } from '../../../zone-control/src/kv/global-kv.ts';
import type { GlobalKv } from '../../../zone-control/src/kv/global-kv.ts';
import { writeGlobalKey } from '../../../zone-control/src/kv/global-kv-write.ts';
import type { GlobalWrite } from '../../../zone-control/src/kv/global-kv-write.ts';
import { awaitReplica, readReplica } from '../../../zone-control/src/kv/kv-replica.ts';

const logger = pino({ level: 'silent' });

/** Write the replica of `key` as the inbox does: record and mirror in one transaction. */
async function replicate(store: Store, key: string, value: string, globalIndex: number) {
  const body: KvResource = {
    key,
    value: Buffer.from(value).toString('base64'),
    flags: 0,
    modifyIndex: globalIndex,
  };
  const stored: StoredResource<KvResource> = { version: `v${globalIndex}`, body, receivedAt: '' };
  const result = await store.txn([
    {
      op: 'set',
      key: `sync/global/kv/${kvResourceName(key)}`,
      value: Buffer.from(JSON.stringify(stored)),
    },
    { op: 'set', key: `kv/${key}`, value: Buffer.from(value) },
  ]);
  if (!result.ok) throw new Error('replicate failed');
  return (await store.get(`kv/${key}`))?.modifyIndex ?? 0;
}

async function unreplicate(store: Store, key: string): Promise<void> {
  await store.txn([
    { op: 'delete', key: `sync/global/kv/${kvResourceName(key)}` },
    { op: 'delete', key: `kv/${key}` },
  ]);
}

/** A sync client stand-in: records ops, answers with `answer`, then runs `after`. */
class FakeLink implements GlobalKv {
  readonly ops: KvWriteOp[] = [];
  up = true;
  answer: (op: KvWriteOp) => Omit<KvWrittenMessage, 'type' | 'id'> | Error = () => ({
    ok: true,
    index: 500,
  });
  after: (op: KvWriteOp) => Promise<void> = () => Promise.resolve();
  scopes = (): Promise<KvScopes> => Promise.resolve(new KvScopes(['global/']));
  contact = () => ({ knownLeader: this.up, lastContactMs: 0 });
  forward(op: KvWriteOp): Promise<KvWrittenMessage> {
    this.ops.push(op);
    const a = this.answer(op);
    if (a instanceof Error) return Promise.reject(a);
    // The replica catches up a little after the answer, as over a real connection.
    setTimeout(() => void this.after(op), 30);
    return Promise.resolve({ type: 'kv-written', id: 'x', ...a });
  }
}

describe('writing a global key at a zone', () => {
  let store: Store;
  let link: FakeLink;
  const write = (w: GlobalWrite): Promise<boolean> =>
    writeGlobalKey({ store, link, logger }, w, 'global/');
  const set = (key: string, value: string, cas?: number): GlobalWrite => ({
    verb: 'set',
    key,
    value: Buffer.from(value),
    flags: 0,
    cas,
  });

  beforeEach(async () => {
    store = await openStore('memory', {});
    link = new FakeLink();
  });

  afterEach(async () => {
    await store.close();
  });

  it('answers true only once the replica shows the write', async () => {
    link.after = async () => void (await replicate(store, 'global/a', 'v', 500));
    expect(await write(set('global/a', 'v'))).to.equal(true);
    expect(link.ops).to.deep.equal([
      { verb: 'set', key: 'global/a', value: Buffer.from('v').toString('base64'), flags: 0 },
    ]);
    // Read-your-write: the mirror is there when the answer comes.
    expect((await store.get('kv/global/a'))?.value.toString()).to.equal('v');
  });

  it('sees a tree delete at once when nothing is left under it; a wait that never holds ends false', async () => {
    const started = Date.now();
    expect(await write({ verb: 'delete-tree', key: 'global/' })).to.equal(true);
    // Nothing under global/ in the replica: a tree delete shows at once.
    expect(Date.now() - started).to.be.below(1000);
    await replicate(store, 'global/b', 'old', 400);
    const waited = await awaitReplica(store, { kind: 'deleted', key: 'global/b', index: 500 }, 200);
    expect(waited).to.equal(false);
  });

  it("maps a client's cas index (the zone's) to global's, and answers a stale one false at once", async () => {
    const zoneIndex = await replicate(store, 'global/c', 'v1', 42);
    link.after = async () => void (await replicate(store, 'global/c', 'v2', 500));
    expect(await write(set('global/c', 'v2', zoneIndex))).to.equal(true);
    expect(link.ops[0]).to.deep.include({ verb: 'cas', index: 42 });
    expect(await write(set('global/c', 'v3', zoneIndex))).to.equal(false);
    expect(await write({ verb: 'delete', key: 'global/c', cas: zoneIndex })).to.equal(false);
    expect(link.ops).to.have.length(1);
    // A cas write of a missing key cannot hold; a cas delete of one is global's to decide.
    expect(await write(set('global/none', 'x', 7))).to.equal(false);
    link.after = () => Promise.resolve();
    expect(await write({ verb: 'delete', key: 'global/none', cas: 7 })).to.equal(true);
    expect(link.ops.at(-1)).to.deep.equal({ verb: 'delete-cas', key: 'global/none', index: 0 });
    // cas=0 goes as it is.
    link.answer = () => ({ ok: false, index: 0 });
    expect(await write(set('global/c', 'x', 0))).to.equal(false);
    expect(link.ops.at(-1)).to.deep.include({ verb: 'cas', index: 0 });
  });

  it('treats a mirror without a replica record (a stray zone key) as not matching any cas', async () => {
    await store.put('kv/global/stray', Buffer.from('zone'));
    const index = (await store.get('kv/global/stray'))?.modifyIndex ?? 0;
    expect(await readReplica(store, 'global/stray')).to.deep.include({ globalIndex: undefined });
    expect(await write(set('global/stray', 'x', index))).to.equal(false);
    expect(link.ops).to.deep.equal([]);
  });

  it('waits for a delete to leave the replica', async () => {
    await replicate(store, 'global/d', 'v', 10);
    link.after = () => unreplicate(store, 'global/d');
    expect(await write({ verb: 'delete', key: 'global/d' })).to.equal(true);
    expect(await store.get('kv/global/d')).to.equal(null);
  });

  it('refuses with 503 and sends nothing while global is unreachable', async () => {
    link.up = false;
    const err = await write(set('global/a', 'v')).then(
      () => undefined,
      (e: unknown) => e as Error & { code: string },
    );
    expect(err?.code).to.equal('CW_ERR_UNAVAILABLE');
    expect(err?.message).to.equal(
      'global KV is read-only at this zone while the global control plane is unreachable: key "global/a" is under global prefix "global/"; retry when zone sync is back (GET /api/federation)',
    );
    expect(link.ops).to.deep.equal([]);
  });

  it("turns a lost answer into a 503 saying the write may have applied, and keeps global's refusals", async () => {
    link.answer = () => new KvForwardError('lost', 'gone');
    const lost = await write(set('global/a', 'v')).catch((e: unknown) => e as Error);
    expect((lost as Error).message).to.match(
      /closed before global answered.*may have been applied/,
    );
    link.answer = () => ({
      ok: false,
      index: 0,
      error: { code: 'CW_ERR_VALUE_TOO_LARGE', message: 'too big', field: 'op.value' },
    });
    const refused = await write(set('global/a', 'v')).catch(
      (e: unknown) => e as Error & { code: string; field?: string },
    );
    expect(refused).to.include({
      code: 'CW_ERR_VALUE_TOO_LARGE',
      field: 'op.value',
      message: 'the global control plane refused the write of key "global/a": too big',
    });
    link.answer = () => ({
      ok: false,
      index: 0,
      error: { code: 'CW_ERR_SOMETHING', message: 'x' },
    });
    const odd = await write(set('global/a', 'v')).catch((e: unknown) => e as { code: string });
    expect(odd).to.include({ code: 'CW_ERR_UNAVAILABLE' });
  });
});

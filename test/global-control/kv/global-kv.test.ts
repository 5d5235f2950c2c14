import { expect } from 'chai';
import { CausewayError, openStore } from '../../../core/index.ts';
import type { KvWriteOp, Store } from '../../../core/index.ts';
import { GlobalKv } from '../../../global-control/src/kv/global-kv.ts';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

async function refusal(promise: Promise<unknown>): Promise<CausewayError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(CausewayError);
    return err as CausewayError;
  }
  expect.fail('expected the write to be refused');
}

describe('global-control/kv/global-kv', function () {
  let store: Store;
  let kv: GlobalKv;

  beforeEach(async function () {
    store = await openStore('memory', {});
    kv = new GlobalKv(store, ['config/shared/', 'global/']);
  });

  afterEach(async function () {
    await store.close();
  });

  async function keys(): Promise<string[]> {
    return (await store.list('')).entries.map((e) => e.key);
  }

  it('sets a global key under kv/ and answers its modify index', async function () {
    const result = await kv.write({ verb: 'set', key: 'global/db', value: b64('v1'), flags: 7 });
    const entry = await store.get('kv/global/db');
    expect(entry?.value.toString()).to.equal('v1');
    expect(entry?.flags).to.equal(7);
    expect(result).to.deep.equal({ ok: true, index: entry?.modifyIndex });
  });

  it('check-and-sets: 0 only creates, a stale index writes nothing and answers index 0', async function () {
    const created = await kv.write({
      verb: 'cas',
      key: 'global/x',
      value: b64('a'),
      flags: 0,
      index: 0,
    });
    expect(created.ok).to.equal(true);
    expect(
      await kv.write({ verb: 'cas', key: 'global/x', value: b64('b'), flags: 0, index: 0 }),
    ).to.deep.equal({ ok: false, index: 0 });
    expect(
      await kv.write({
        verb: 'cas',
        key: 'global/x',
        value: b64('b'),
        flags: 0,
        index: created.index + 100,
      }),
    ).to.deep.equal({ ok: false, index: 0 });
    expect((await store.get('kv/global/x'))?.value.toString()).to.equal('a');
    const updated = await kv.write({
      verb: 'cas',
      key: 'global/x',
      value: b64('b'),
      flags: 0,
      index: created.index,
    });
    expect(updated.ok).to.equal(true);
    expect(updated.index).to.be.greaterThan(created.index);
  });

  it('deletes: plain, check-and-set, and a tree inside one global prefix', async function () {
    const a = await kv.write({ verb: 'set', key: 'global/a', value: b64('1') });
    await kv.write({ verb: 'set', key: 'global/t/1', value: b64('1') });
    await kv.write({ verb: 'set', key: 'global/t/2', value: b64('2') });
    await kv.write({ verb: 'set', key: 'config/shared/c', value: b64('3') });
    expect(
      await kv.write({ verb: 'delete-cas', key: 'global/a', index: a.index + 1 }),
    ).to.deep.equal({ ok: false, index: 0 });
    expect(await store.get('kv/global/a')).to.not.equal(null);
    const deleted = await kv.write({ verb: 'delete-cas', key: 'global/a', index: a.index });
    expect(deleted.ok).to.equal(true);
    expect(deleted.index).to.equal(await store.currentIndex());
    // A missing key counts as deleted, even under check-and-set.
    expect((await kv.write({ verb: 'delete-cas', key: 'global/a', index: 5 })).ok).to.equal(true);
    expect((await kv.write({ verb: 'delete', key: 'global/none' })).ok).to.equal(true);
    const tree = await kv.write({ verb: 'delete-tree', key: 'global/t/' });
    expect(tree).to.deep.equal({ ok: true, index: await store.currentIndex() });
    expect(await keys()).to.deep.equal(['kv/config/shared/c']);
    // The whole global folder is a tree inside one global prefix.
    await kv.write({ verb: 'delete-tree', key: 'config/shared/' });
    expect(await keys()).to.deep.equal([]);
  });

  const refused: [string, KvWriteOp, string, RegExp][] = [
    [
      'a key outside every global prefix',
      { verb: 'set', key: 'app/db', value: b64('x') },
      'op.key',
      /^key "app\/db" is not under a global KV prefix \(config\/shared\/, global\/\)/,
    ],
    [
      'a sibling that only starts like a global folder',
      { verb: 'delete', key: 'global-config' },
      'op.key',
      /not under a global KV prefix/,
    ],
    [
      'a recursive delete reaching into global prefixes',
      { verb: 'delete-tree', key: '' },
      'op.key',
      /^a recursive delete of "" reaches into the global KV prefixes config\/shared\/, global\/ without lying inside one: delete each global folder separately/,
    ],
    [
      'a recursive delete of a zone folder',
      { verb: 'delete-tree', key: 'app/' },
      'op.key',
      /^prefix "app\/" is not under a global KV prefix/,
    ],
    [
      'an unknown verb',
      { verb: 'lock' as 'set', key: 'global/x' },
      'op.verb',
      /^op\.verb must be one of set, cas, delete, delete-cas, delete-tree/,
    ],
    [
      'a value that is not base64',
      { verb: 'set', key: 'global/x', value: 'not base64!' },
      'op.value',
      /must be base64/,
    ],
    [
      'negative flags',
      { verb: 'set', key: 'global/x', value: '', flags: -1 },
      'op.flags',
      /non-negative integer/,
    ],
    [
      'a cas without an index',
      { verb: 'cas', key: 'global/x', value: '' },
      'op.index',
      /non-negative integer/,
    ],
    [
      'a key with an empty segment',
      { verb: 'set', key: 'global//x', value: '' },
      'op.key',
      /empty segment/,
    ],
    [
      'a value over 512 KiB',
      { verb: 'set', key: 'global/x', value: Buffer.alloc(512 * 1024 + 1).toString('base64') },
      'op.value',
      /a KV value holds at most 524288/,
    ],
  ];
  for (const [what, op, field, message] of refused) {
    it(`refuses ${what}, naming ${field}, and writes nothing`, async function () {
      await kv.write({ verb: 'set', key: 'global/x', value: b64('before') });
      const before = await store.currentIndex();
      const err = await refusal(kv.write(op));
      expect(err.field).to.equal(field);
      expect(err.message).to.match(message);
      expect(await store.currentIndex()).to.equal(before);
      expect((await store.get('kv/global/x'))?.value.toString()).to.equal('before');
    });
  }

  it('names the key field the caller gives (the HTTP API says "key")', async function () {
    const err = await refusal(kv.write({ verb: 'delete', key: 'app/x' }, 'key'));
    expect(err.field).to.equal('key');
  });

  it('lists only keys under the global prefixes, without kv/', async function () {
    await kv.write({ verb: 'set', key: 'global/a', value: b64('1') });
    // Left from a prefix that is no longer global.
    await store.put('kv/old/x', Buffer.from('1'));
    const { entries, index } = await kv.list('');
    expect(entries.map((e) => e.key)).to.deep.equal(['global/a']);
    expect(index).to.equal(await store.currentIndex());
    expect((await kv.get('global/a'))?.value.toString()).to.equal('1');
  });

  it('refuses listings that hold no global KV and accepts ones that reach into it', function () {
    expect(() => kv.requireGlobalListing('app/')).to.throw(/holds no global KV/);
    expect(() => kv.requireGlobalListing('config/')).to.not.throw();
    expect(() => kv.requireGlobalListing('global/x')).to.not.throw();
  });
});

/**
 * The behaviour every {@link Store} backend must show, as one mocha suite each backend runs
 * against itself (`describeStoreContract('embedded', harness)`). The semantics follow
 * Consul's KV store; see core/src/store/types.ts for the contract in prose.
 *
 * One file on purpose: a backend author should be able to read the whole contract top to
 * bottom in one place.
 */
import { expect } from 'chai';
import type { CausewayError } from '../../../core/src/errors.ts';
import {
  ClosedError,
  InvalidArgumentError,
  InvalidKeyError,
  ValueTooLargeError,
} from '../../../core/src/errors.ts';
import { MAX_KEY_BYTES, MAX_TXN_OPS, MAX_VALUE_BYTES } from '../../../core/src/store/types.ts';
import type {
  Entry,
  KeyChange,
  PutResult,
  Store,
  TxnOp,
  TxnResult,
  WatchEvent,
  WatchOptions,
} from '../../../core/src/store/types.ts';
import { collect, drain, nextEvent, raceTimeout, withTimeout } from '../../helpers/async.ts';

export interface StoreHarness {
  /** A fresh, empty store on every call (a new namespace, a new temp dir, ...). */
  open(opts?: { historyLimit?: number }): Promise<Store>;
  /** Called once after the suite; stores opened by the suite are already closed. */
  cleanup?(): Promise<void>;
}

/** How long "nothing arrives" is given to prove itself. */
const QUIET_MS = 150;
/** How long an event that should arrive may take. */
const EVENT_MS = 3000;

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

/** An entry in a form that compares cleanly (an absent and an undefined session are equal). */
function view(e: Entry | null | undefined): Record<string, unknown> | null {
  if (e === null || e === undefined) return null;
  return {
    key: e.key,
    value: e.value.toString('hex'),
    flags: e.flags,
    createIndex: e.createIndex,
    modifyIndex: e.modifyIndex,
    lockIndex: e.lockIndex,
    session: e.session ?? null,
  };
}

function changeView(c: KeyChange): string {
  return c.op === 'put' ? `put ${c.key}=${c.entry.value.toString()}` : `delete ${c.key}`;
}

/** The rejection of a promise that must reject; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  expect.fail('expected the call to be rejected');
}

async function expectTyped(
  promise: Promise<unknown>,
  type: new (...args: never[]) => CausewayError,
): Promise<CausewayError> {
  const err = await rejection(promise);
  expect(err).to.be.instanceOf(type);
  return err as CausewayError;
}

function okEntry(result: PutResult): Entry {
  if (!result.ok)
    expect.fail(`expected the put to succeed; current: ${JSON.stringify(view(result.current))}`);
  return result.entry;
}

function okTxn(result: TxnResult): Extract<TxnResult, { ok: true }> {
  if (!result.ok)
    expect.fail(`expected the txn to commit; errors: ${JSON.stringify(result.errors)}`);
  return result;
}

function failedTxn(result: TxnResult): Extract<TxnResult, { ok: false }> {
  if (result.ok) expect.fail('expected the txn to fail');
  return result;
}

function asEntry(r: Entry | Entry[] | null | undefined): Entry {
  if (r === null || r === undefined || Array.isArray(r)) {
    expect.fail(`expected an entry, got ${JSON.stringify(r)}`);
  }
  return r;
}

function asChange(e: IteratorResult<WatchEvent>): Extract<WatchEvent, { type: 'change' }> {
  if (e.done === true) expect.fail('the watch ended; expected a change event');
  if (e.value.type !== 'change')
    expect.fail(`expected a change event, got ${JSON.stringify(e.value)}`);
  return e.value;
}

function changesOf(events: WatchEvent[]): { index: number; changes: string[] }[] {
  return events.map((e) => {
    if (e.type !== 'change') expect.fail(`expected only change events, got ${JSON.stringify(e)}`);
    return { index: e.index, changes: e.changes.map(changeView) };
  });
}

export function describeStoreContract(name: string, harness: StoreHarness): void {
  describe(`store contract: ${name}`, function () {
    const opened: Store[] = [];
    let store: Store;

    async function open(opts?: { historyLimit?: number }): Promise<Store> {
      const s = await harness.open(opts);
      opened.push(s);
      return s;
    }

    beforeEach(async function () {
      store = await open();
    });

    afterEach(async function () {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    after(async function () {
      await harness.cleanup?.();
    });

    /** Put and return the committed entry, failing the test if the put did not commit. */
    async function put(key: string, value: string, s: Store = store): Promise<Entry> {
      return okEntry(await s.put(key, b(value)));
    }

    async function keys(prefix = '', s: Store = store): Promise<string[]> {
      return (await s.list(prefix)).entries.map((e) => e.key);
    }

    describe('get and put', function () {
      it('starts empty at index 0', async function () {
        expect(await store.currentIndex()).to.equal(0);
        expect(await keys()).to.deep.equal([]);
      });

      it('returns null for a missing key', async function () {
        expect(await store.get('missing')).to.equal(null);
      });

      it('reads back what was put, with the entry the put returned', async function () {
        const result = await store.put('app/config', b('hello'));
        const written = okEntry(result);
        expect(view(await store.get('app/config'))).to.deep.equal(view(written));
        expect(written.key).to.equal('app/config');
        expect(written.value.toString()).to.equal('hello');
        expect(written.lockIndex).to.equal(0);
        expect(written.session).to.equal(undefined);
      });

      it('gives a new key createIndex = modifyIndex = the new store index', async function () {
        const e = await put('k', 'v');
        expect(e.createIndex).to.equal(1);
        expect(e.modifyIndex).to.equal(1);
        expect(await store.currentIndex()).to.equal(1);
      });

      it('keeps createIndex and advances modifyIndex on overwrite', async function () {
        const first = await put('k', 'one');
        await put('other', 'x');
        const second = await put('k', 'two');
        expect(second.createIndex).to.equal(first.createIndex);
        expect(second.modifyIndex).to.equal(3);
        expect((await store.get('k'))!.value.toString()).to.equal('two');
      });

      it('stores every byte value unchanged', async function () {
        const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        okEntry(await store.put('bin', all));
        const got = await store.get('bin');
        expect(Buffer.isBuffer(got!.value)).to.equal(true);
        expect(got!.value.equals(all)).to.equal(true);
      });

      it('returns binary values unchanged from list', async function () {
        const all = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i));
        okEntry(await store.put('bin/a', all));
        const [listed] = (await store.list('bin/')).entries;
        expect(listed!.value.equals(all)).to.equal(true);
      });

      it('stores an empty value', async function () {
        okEntry(await store.put('empty', Buffer.alloc(0)));
        const got = await store.get('empty');
        expect(got).to.not.equal(null);
        expect(got!.value.length).to.equal(0);
      });

      it('keeps its own copy of the value given to put', async function () {
        const value = b('abc');
        okEntry(await store.put('k', value));
        value.fill(0);
        expect((await store.get('k'))!.value.toString()).to.equal('abc');
      });

      it('accepts a value of exactly 512 KiB', async function () {
        const big = Buffer.alloc(MAX_VALUE_BYTES, 0xab);
        okEntry(await store.put('big', big));
        expect((await store.get('big'))!.value.equals(big)).to.equal(true);
      });

      it('rejects a value one byte over 512 KiB with ValueTooLargeError and writes nothing', async function () {
        const err = await expectTyped(
          store.put('big', Buffer.alloc(MAX_VALUE_BYTES + 1)),
          ValueTooLargeError,
        );
        expect(err.code).to.equal('CW_ERR_VALUE_TOO_LARGE');
        expect(await store.get('big')).to.equal(null);
        expect(await store.currentIndex()).to.equal(0);
      });

      it('rejects a value that is not a Buffer with InvalidArgumentError', async function () {
        await expectTyped(store.put('k', 'text' as unknown as Buffer), InvalidArgumentError);
        expect(await store.get('k')).to.equal(null);
      });

      it('round-trips multi-byte UTF-8 keys', async function () {
        await put('héllo/wörld/日本', 'v');
        expect((await store.get('héllo/wörld/日本'))!.key).to.equal('héllo/wörld/日本');
        expect(await keys('héllo/')).to.deep.equal(['héllo/wörld/日本']);
      });
    });

    describe('key validation', function () {
      const badKeys: [string, string][] = [
        ['an empty key', ''],
        ['a key with NUL', 'a\u0000b'],
        ['a key with a leading "/"', '/a'],
        ['a key with an empty segment "//"', 'a//b'],
        ['a key longer than 1024 bytes', 'k'.repeat(MAX_KEY_BYTES + 1)],
        ['a key of 1024 bytes written with multi-byte characters plus one', 'é'.repeat(512) + 'x'],
      ];
      for (const [what, key] of badKeys) {
        it(`rejects ${what} with InvalidKeyError and writes nothing`, async function () {
          const err = await expectTyped(store.put(key, b('v')), InvalidKeyError);
          expect(err.code).to.equal('CW_ERR_INVALID_KEY');
          expect(await store.currentIndex()).to.equal(0);
          expect(await keys()).to.deep.equal([]);
        });
      }

      it('accepts a key of exactly 1024 bytes', async function () {
        const key = 'k'.repeat(MAX_KEY_BYTES);
        await put(key, 'v');
        expect((await store.get(key))!.key).to.equal(key);
      });

      it('accepts a trailing "/" (a folder marker) as a key of its own', async function () {
        await put('config/', 'folder');
        await put('config/a', 'child');
        expect((await store.get('config/'))!.value.toString()).to.equal('folder');
        expect(await keys('config')).to.deep.equal(['config/', 'config/a']);
      });

      it('rejects an invalid key on get and delete and an invalid prefix on list', async function () {
        await expectTyped(store.get('a//b'), InvalidKeyError);
        await expectTyped(store.delete('/a'), InvalidKeyError);
        await expectTyped(store.list('/a'), InvalidKeyError);
      });
    });

    describe('flags', function () {
      it('stores 0 when a put has no flags', async function () {
        expect((await put('k', 'v')).flags).to.equal(0);
        expect((await store.get('k'))!.flags).to.equal(0);
      });

      it('persists the flags given', async function () {
        const max = Number.MAX_SAFE_INTEGER;
        okEntry(await store.put('k', b('v'), { flags: 42 }));
        okEntry(await store.put('max', b('v'), { flags: max }));
        expect((await store.get('k'))!.flags).to.equal(42);
        expect((await store.get('max'))!.flags).to.equal(max);
      });

      it('resets flags to 0 when a later put has none', async function () {
        okEntry(await store.put('k', b('v'), { flags: 7 }));
        await put('k', 'v2');
        expect((await store.get('k'))!.flags).to.equal(0);
      });

      it('rejects negative or fractional flags with InvalidArgumentError', async function () {
        await expectTyped(store.put('k', b('v'), { flags: -1 }), InvalidArgumentError);
        await expectTyped(store.put('k', b('v'), { flags: 1.5 }), InvalidArgumentError);
        expect(await store.get('k')).to.equal(null);
        expect(await store.currentIndex()).to.equal(0);
      });
    });

    describe('indexes', function () {
      it('bumps the store index by exactly 1 per put', async function () {
        for (let i = 1; i <= 5; i++) {
          const e = await put(`k${i % 2}`, `v${i}`);
          expect(e.modifyIndex).to.equal(i);
          expect(await store.currentIndex()).to.equal(i);
        }
      });

      it('bumps by 1 for a delete that removed something, not for one that removed nothing', async function () {
        await put('k', 'v');
        expect(await store.delete('k')).to.deep.equal({ ok: true, deleted: 1 });
        expect(await store.currentIndex()).to.equal(2);
        expect(await store.delete('k')).to.deep.equal({ ok: true, deleted: 0 });
        expect(await store.currentIndex()).to.equal(2);
      });

      it('does not bump for a failed check-and-set', async function () {
        const e = await put('k', 'v');
        const result = await store.put('k', b('w'), { cas: e.modifyIndex + 100 });
        expect(result.ok).to.equal(false);
        expect(await store.currentIndex()).to.equal(1);
      });

      it('bumps by exactly 1 for a transaction with several writes', async function () {
        await put('k', 'v');
        const result = okTxn(
          await store.txn([
            { op: 'set', key: 'a', value: b('1') },
            { op: 'set', key: 'b', value: b('2') },
            { op: 'delete', key: 'k' },
          ]),
        );
        expect(result.index).to.equal(2);
        expect(await store.currentIndex()).to.equal(2);
        expect((await store.get('a'))!.modifyIndex).to.equal(2);
        expect((await store.get('b'))!.modifyIndex).to.equal(2);
      });

      it('does not bump for a read-only transaction', async function () {
        await put('k', 'v');
        const result = okTxn(
          await store.txn([
            { op: 'get', key: 'k' },
            { op: 'check-index', key: 'k', index: 1 },
          ]),
        );
        expect(result.index).to.equal(1);
        expect(await store.currentIndex()).to.equal(1);
      });

      it('resets createIndex when a key is deleted and recreated', async function () {
        const first = await put('k', 'v');
        await store.delete('k');
        const again = await put('k', 'v');
        expect(first.createIndex).to.equal(1);
        expect(again.createIndex).to.equal(3);
        expect(again.modifyIndex).to.equal(3);
      });

      it('reports in list the index the read is consistent with', async function () {
        await put('a', '1');
        await put('b', '2');
        expect((await store.list('')).index).to.equal(2);
        expect((await store.list('nothing/')).index).to.equal(2);
      });
    });

    describe('check-and-set', function () {
      it('creates a missing key with cas 0', async function () {
        const e = okEntry(await store.put('k', b('v'), { cas: 0 }));
        expect(e.createIndex).to.equal(1);
      });

      it('refuses cas 0 on an existing key and returns the current entry', async function () {
        const e = await put('k', 'v');
        const result = await store.put('k', b('w'), { cas: 0 });
        expect(result.ok).to.equal(false);
        if (!result.ok) expect(view(result.current)).to.deep.equal(view(e));
        expect((await store.get('k'))!.value.toString()).to.equal('v');
      });

      it('updates when cas equals the modifyIndex', async function () {
        const e = await put('k', 'v');
        await put('other', 'x');
        const updated = okEntry(await store.put('k', b('w'), { cas: e.modifyIndex }));
        expect(updated.modifyIndex).to.equal(3);
        expect(updated.createIndex).to.equal(e.createIndex);
        expect((await store.get('k'))!.value.toString()).to.equal('w');
      });

      it('refuses a stale cas and returns the current entry unchanged', async function () {
        const first = await put('k', 'v1');
        const second = await put('k', 'v2');
        const result = await store.put('k', b('v3'), { cas: first.modifyIndex });
        expect(result.ok).to.equal(false);
        if (!result.ok) expect(view(result.current)).to.deep.equal(view(second));
        expect(view(await store.get('k'))).to.deep.equal(view(second));
      });

      it('refuses a non-zero cas on a missing key with current null', async function () {
        await put('other', 'x');
        const result = await store.put('k', b('v'), { cas: 1 });
        expect(result).to.deep.equal({ ok: false, current: null });
        expect(await store.get('k')).to.equal(null);
      });

      it('lets exactly one of 20 concurrent cas updates from the same read win', async function () {
        const base = await put('k', 'base');
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.put('k', b(`v${i}`), { cas: base.modifyIndex }),
          ),
        );
        const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
        expect(winners).to.have.length(1);
        const winner = winners[0]!;
        const final = await store.get('k');
        expect(final!.value.toString()).to.equal(`v${winner}`);
        for (const r of results) {
          if (!r.ok) expect(r.current?.value.toString()).to.equal(`v${winner}`);
        }
        expect(await store.currentIndex()).to.equal(base.modifyIndex + 1);
      });

      it('lets exactly one of 20 concurrent create-only puts win', async function () {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.put('k', b(`v${i}`), { cas: 0 })),
        );
        const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
        expect(winners).to.have.length(1);
        expect((await store.get('k'))!.value.toString()).to.equal(`v${winners[0]!}`);
        expect(await store.currentIndex()).to.equal(1);
      });
    });

    describe('concurrent writers', function () {
      it('gives 50 concurrent puts 50 distinct consecutive indexes', async function () {
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => store.put(`c/${i}`, b(String(i)))),
        );
        const indexes = results.map((r) => okEntry(r).modifyIndex).sort((x, y) => x - y);
        expect(indexes).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
        expect(await store.currentIndex()).to.equal(50);
        expect((await store.list('c/')).entries).to.have.length(50);
      });

      it('lets exactly one of 10 concurrent transactions with the same cas commit', async function () {
        const base = await put('k', 'base');
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store.txn([
              { op: 'set', key: `side/${i}`, value: b('x') },
              { op: 'cas', key: 'k', value: b(`t${i}`), index: base.modifyIndex },
            ]),
          ),
        );
        const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
        expect(winners).to.have.length(1);
        expect((await store.get('k'))!.value.toString()).to.equal(`t${winners[0]!}`);
        expect(await keys('side/')).to.deep.equal([`side/${winners[0]!}`]);
        expect(await store.currentIndex()).to.equal(base.modifyIndex + 1);
      });
    });

    describe('sessions and lock index', function () {
      it('records the session and lock index given', async function () {
        const e = okEntry(await store.put('lock', b('v'), { session: 's1', lockIndex: 1 }));
        expect(e.session).to.equal('s1');
        expect(e.lockIndex).to.equal(1);
        const got = await store.get('lock');
        expect(got!.session).to.equal('s1');
        expect(got!.lockIndex).to.equal(1);
      });

      it('gives a new key lock index 0 and no session', async function () {
        const e = await put('k', 'v');
        expect(e.lockIndex).to.equal(0);
        expect(e.session ?? null).to.equal(null);
      });

      it('keeps the session and lock index when a put leaves them undefined', async function () {
        okEntry(await store.put('lock', b('v'), { session: 's1', lockIndex: 3 }));
        const e = await put('lock', 'v2');
        expect(e.session).to.equal('s1');
        expect(e.lockIndex).to.equal(3);
        expect((await store.get('lock'))!.session).to.equal('s1');
      });

      it('clears the session with session null but keeps the lock index', async function () {
        okEntry(await store.put('lock', b('v'), { session: 's1', lockIndex: 3 }));
        const e = okEntry(await store.put('lock', b('v'), { session: null }));
        expect(e.session ?? null).to.equal(null);
        expect(e.lockIndex).to.equal(3);
        const got = await store.get('lock');
        expect(got!.session ?? null).to.equal(null);
        expect(got!.lockIndex).to.equal(3);
      });

      it('replaces the lock index when one is given', async function () {
        okEntry(await store.put('lock', b('v'), { session: 's1', lockIndex: 1 }));
        const e = okEntry(await store.put('lock', b('v'), { session: 's2', lockIndex: 2 }));
        expect(e.session).to.equal('s2');
        expect(e.lockIndex).to.equal(2);
      });

      it('keeps lock indexes and flags up to 2^53 - 1 exact', async function () {
        const max = Number.MAX_SAFE_INTEGER;
        okEntry(await store.put('lock', b('v'), { session: 's1', lockIndex: max, flags: max - 1 }));
        const got = await store.get('lock');
        expect(got!.lockIndex).to.equal(max);
        expect(got!.flags).to.equal(max - 1);
      });

      it('rejects an empty session string with InvalidArgumentError', async function () {
        await expectTyped(store.put('lock', b('v'), { session: '' }), InvalidArgumentError);
        expect(await store.currentIndex()).to.equal(0);
      });
    });

    describe('list', function () {
      beforeEach(async function () {
        for (const k of ['a/1', 'a/b/2', 'a/b/3', 'a/c/4', 'b/5', 'ab']) await put(k, k);
      });

      it('lists every key under a prefix in key order', async function () {
        const result = await store.list('a/');
        expect(result.entries.map((e) => e.key)).to.deep.equal(['a/1', 'a/b/2', 'a/b/3', 'a/c/4']);
        expect(result.entries.map((e) => e.value.toString())).to.deep.equal([
          'a/1',
          'a/b/2',
          'a/b/3',
          'a/c/4',
        ]);
        expect(result.prefixes).to.deep.equal([]);
      });

      it('treats the prefix as a plain string prefix, not a folder', async function () {
        expect(await keys('a')).to.deep.equal(['a/1', 'a/b/2', 'a/b/3', 'a/c/4', 'ab']);
      });

      it('lists everything with the empty prefix', async function () {
        expect(await keys('')).to.deep.equal(['a/1', 'a/b/2', 'a/b/3', 'a/c/4', 'ab', 'b/5']);
      });

      it('returns nothing for a prefix with no keys', async function () {
        const result = await store.list('zzz/');
        expect(result.entries).to.deep.equal([]);
        expect(result.prefixes).to.deep.equal([]);
      });

      it('rolls keys past the separator up into folder prefixes', async function () {
        const result = await store.list('a/', { separator: '/' });
        expect(result.entries.map((e) => e.key)).to.deep.equal(['a/1']);
        expect(result.prefixes).to.deep.equal(['a/b/', 'a/c/']);
      });

      it('rolls up the top level with the empty prefix', async function () {
        const result = await store.list('', { separator: '/' });
        expect(result.entries.map((e) => e.key)).to.deep.equal(['ab']);
        expect(result.prefixes).to.deep.equal(['a/', 'b/']);
      });

      it('matches prefixes with glob and regex characters literally', async function () {
        const special = ['g*/1', 'g?/2', 'g[x]/3', 'g\\/4', 'g{t}/5', 'g./6', 'gz/7'];
        for (const k of special) await put(k, k);
        expect(await keys('g*')).to.deep.equal(['g*/1']);
        expect(await keys('g?')).to.deep.equal(['g?/2']);
        expect(await keys('g[x]')).to.deep.equal(['g[x]/3']);
        expect(await keys('g\\')).to.deep.equal(['g\\/4']);
        expect(await keys('g{t}')).to.deep.equal(['g{t}/5']);
        expect(await keys('g.')).to.deep.equal(['g./6']);
        expect(await store.delete('g*', { recurse: true })).to.deep.equal({ ok: true, deleted: 1 });
        expect(await keys('g')).to.have.length(special.length - 1);
      });

      it('includes keys with the highest code points under a prefix', async function () {
        for (const k of ['p/\uffff', 'p/\u{10ffff}', 'p/~', 'q']) await put(k, k);
        expect(await keys('p/')).to.have.members(['p/\uffff', 'p/\u{10ffff}', 'p/~']);
        expect(await keys('p/')).to.have.length(3);
        expect(await store.delete('p/', { recurse: true })).to.deep.equal({ ok: true, deleted: 3 });
        expect(await keys('p/')).to.deep.equal([]);
      });

      it('lists keys in byte order, not numeric order', async function () {
        for (const k of ['n/10', 'n/2', 'n/1']) await put(k, k);
        expect(await keys('n/')).to.deep.equal(['n/1', 'n/10', 'n/2']);
      });
    });

    describe('delete', function () {
      it('deletes a single key and returns deleted 1', async function () {
        await put('k', 'v');
        expect(await store.delete('k')).to.deep.equal({ ok: true, deleted: 1 });
        expect(await store.get('k')).to.equal(null);
      });

      it('deletes only the exact key without recurse', async function () {
        for (const k of ['a', 'a/b', 'ab']) await put(k, k);
        expect(await store.delete('a')).to.deep.equal({ ok: true, deleted: 1 });
        expect(await keys()).to.deep.equal(['a/b', 'ab']);
      });

      it('returns ok with deleted 0 for a missing key and keeps the index', async function () {
        await put('other', 'v');
        expect(await store.delete('missing')).to.deep.equal({ ok: true, deleted: 0 });
        expect(await store.currentIndex()).to.equal(1);
      });

      it('deletes with a matching cas', async function () {
        const e = await put('k', 'v');
        expect(await store.delete('k', { cas: e.modifyIndex })).to.deep.equal({
          ok: true,
          deleted: 1,
        });
        expect(await store.get('k')).to.equal(null);
        expect(await store.currentIndex()).to.equal(2);
      });

      it('refuses a mismatched cas, keeps the key and the index', async function () {
        const e = await put('k', 'v');
        expect(await store.delete('k', { cas: e.modifyIndex + 5 })).to.deep.equal({
          ok: false,
          deleted: 0,
        });
        expect(view(await store.get('k'))).to.deep.equal(view(e));
        expect(await store.currentIndex()).to.equal(1);
      });

      it('treats a cas delete of a missing key as done (ok, deleted 0, no index bump)', async function () {
        await put('other', 'v');
        expect(await store.delete('missing', { cas: 7 })).to.deep.equal({ ok: true, deleted: 0 });
        expect(await store.currentIndex()).to.equal(1);
      });

      it('rejects cas combined with recurse with InvalidArgumentError', async function () {
        const e = await put('a/1', 'v');
        await expectTyped(
          store.delete('a/', { recurse: true, cas: e.modifyIndex }),
          InvalidArgumentError,
        );
        expect(await keys()).to.deep.equal(['a/1']);
      });

      it('deletes a whole prefix with recurse at one index', async function () {
        for (const k of ['a/1', 'a/b/2', 'ab', 'b']) await put(k, k);
        expect(await store.delete('a/', { recurse: true })).to.deep.equal({ ok: true, deleted: 2 });
        expect(await keys()).to.deep.equal(['ab', 'b']);
        expect(await store.currentIndex()).to.equal(5);
      });

      it('deletes everything with recurse and the empty prefix', async function () {
        for (const k of ['a/1', 'b', 'c/d/e']) await put(k, k);
        expect(await store.delete('', { recurse: true })).to.deep.equal({ ok: true, deleted: 3 });
        expect(await keys()).to.deep.equal([]);
        expect(await store.currentIndex()).to.equal(4);
      });

      it('does not bump the index for a recurse delete that matches nothing', async function () {
        await put('a', 'v');
        expect(await store.delete('zzz/', { recurse: true })).to.deep.equal({
          ok: true,
          deleted: 0,
        });
        expect(await store.currentIndex()).to.equal(1);
      });
    });

    describe('transactions', function () {
      it('commits every verb and returns one result per op', async function () {
        await put('old', 'x');
        okEntry(await store.put('locked', b('l'), { session: 's1', lockIndex: 1 }));
        const casTarget = await put('cas-me', 'c0');
        await put('del-cas', 'd');
        await put('tree/1', 't1');
        await put('tree/2', 't2');
        const delCas = (await store.get('del-cas'))!.modifyIndex;
        const before = await store.currentIndex();

        const result = okTxn(
          await store.txn([
            { op: 'set', key: 'new', value: b('n'), flags: 9 },
            { op: 'get', key: 'old' },
            { op: 'get-tree', key: 'tree/' },
            { op: 'cas', key: 'cas-me', value: b('c1'), index: casTarget.modifyIndex },
            { op: 'delete', key: 'old' },
            { op: 'delete-tree', key: 'tree/' },
            { op: 'delete-cas', key: 'del-cas', index: delCas },
            { op: 'check-index', key: 'cas-me', index: before + 1 },
            { op: 'check-not-exists', key: 'old' },
            { op: 'check-session', key: 'locked', session: 's1' },
          ]),
        );

        expect(result.index).to.equal(before + 1);
        expect(result.results).to.have.length(10);
        const [set, get, tree, cas, ...rest] = result.results;
        expect(view(asEntry(set))).to.deep.include({
          key: 'new',
          value: b('n').toString('hex'),
          flags: 9,
          createIndex: before + 1,
          modifyIndex: before + 1,
        });
        expect(asEntry(get).value.toString()).to.equal('x');
        expect(Array.isArray(tree)).to.equal(true);
        expect((tree as Entry[]).map((e) => e.key)).to.deep.equal(['tree/1', 'tree/2']);
        expect(asEntry(cas).value.toString()).to.equal('c1');
        expect(asEntry(cas).modifyIndex).to.equal(before + 1);
        expect(rest).to.deep.equal([null, null, null, null, null, null]);

        expect(await keys()).to.deep.equal(['cas-me', 'locked', 'new']);
        expect(await store.currentIndex()).to.equal(before + 1);
      });

      it('lets reads see writes made earlier in the same transaction', async function () {
        await put('t/0', 'zero');
        const result = okTxn(
          await store.txn([
            { op: 'set', key: 'k', value: b('v1') },
            { op: 'get', key: 'k' },
            { op: 'set', key: 't/1', value: b('one') },
            { op: 'delete', key: 't/0' },
            { op: 'get-tree', key: 't/' },
            { op: 'check-not-exists', key: 't/0' },
          ]),
        );
        expect(asEntry(result.results[1]).value.toString()).to.equal('v1');
        expect((result.results[4] as Entry[]).map((e) => e.key)).to.deep.equal(['t/1']);
      });

      it('lets a cas op use the index of an earlier set in the same transaction', async function () {
        const next = (await store.currentIndex()) + 1;
        const result = okTxn(
          await store.txn([
            { op: 'set', key: 'k', value: b('v1') },
            { op: 'check-index', key: 'k', index: next },
            { op: 'cas', key: 'k', value: b('v2'), index: next },
          ]),
        );
        expect(asEntry(result.results[2]).value.toString()).to.equal('v2');
        expect((await store.get('k'))!.value.toString()).to.equal('v2');
      });

      it('fails a get of a missing key and reports its op index', async function () {
        const result = failedTxn(
          await store.txn([
            { op: 'set', key: 'a', value: b('1') },
            { op: 'get', key: 'missing' },
          ]),
        );
        expect(result.errors).to.have.length.greaterThan(0);
        expect(result.errors[0]!.opIndex).to.equal(1);
        expect(result.errors[0]!.what).to.be.a('string').and.not.equal('');
        expect(await store.get('a')).to.equal(null);
      });

      it('fails a get of a key deleted earlier in the same transaction', async function () {
        await put('k', 'v');
        const result = failedTxn(
          await store.txn([
            { op: 'delete', key: 'k' },
            { op: 'get', key: 'k' },
          ]),
        );
        expect(result.errors[0]!.opIndex).to.equal(1);
        expect(await store.get('k')).to.not.equal(null);
      });

      const failingChecks: [string, (idx: number) => TxnOp][] = [
        [
          'check-index with a stale index',
          (idx) => ({ op: 'check-index', key: 'k', index: idx + 9 }),
        ],
        ['check-not-exists on an existing key', () => ({ op: 'check-not-exists', key: 'k' })],
        [
          'check-session with another session',
          () => ({ op: 'check-session', key: 'k', session: 'other' }),
        ],
        [
          'check-session null on a locked key',
          () => ({ op: 'check-session', key: 'k', session: null }),
        ],
        [
          'cas with a stale index',
          (idx) => ({ op: 'cas', key: 'k', value: b('x'), index: idx + 9 }),
        ],
        [
          'cas with index 0 on an existing key',
          () => ({ op: 'cas', key: 'k', value: b('x'), index: 0 }),
        ],
        [
          'delete-cas with a stale index',
          (idx) => ({ op: 'delete-cas', key: 'k', index: idx + 9 }),
        ],
      ];
      for (const [what, failing] of failingChecks) {
        it(`rolls back earlier writes when a later ${what} fails`, async function () {
          const k = okEntry(await store.put('k', b('v'), { session: 's1', lockIndex: 1 }));
          const gone = await put('gone', 'g');
          const before = await store.currentIndex();
          const watch = store.watch('', before);
          try {
            const result = failedTxn(
              await store.txn([
                { op: 'set', key: 'new', value: b('n') },
                { op: 'set', key: 'k', value: b('changed') },
                { op: 'delete', key: 'gone' },
                failing(k.modifyIndex),
              ]),
            );
            expect(result.errors.map((e) => e.opIndex)).to.deep.equal([3]);
            expect(await store.get('new')).to.equal(null);
            expect(view(await store.get('k'))).to.deep.equal(view(k));
            expect(view(await store.get('gone'))).to.deep.equal(view(gone));
            expect(await store.currentIndex()).to.equal(before);
            // The first event the watch sees must be the next real write, not the rollback.
            await put('after', 'a');
            const event = asChange(await nextEvent(watch, EVENT_MS));
            expect(event.index).to.equal(before + 1);
            expect(event.changes.map(changeView)).to.deep.equal(['put after=a']);
          } finally {
            await watch.return?.();
          }
        });
      }

      const onMissing: [string, TxnOp][] = [
        ['check-index with index 0', { op: 'check-index', key: 'missing', index: 0 }],
        ['check-session with a session', { op: 'check-session', key: 'missing', session: 's1' }],
        ['check-session with null', { op: 'check-session', key: 'missing', session: null }],
      ];
      for (const [what, check] of onMissing) {
        it(`fails ${what} on a missing key, as Consul does`, async function () {
          const result = failedTxn(
            await store.txn([{ op: 'set', key: 'a', value: b('1') }, check]),
          );
          expect(result.errors.map((e) => e.opIndex)).to.deep.equal([1]);
          expect(await store.get('a')).to.equal(null);
          expect(await store.currentIndex()).to.equal(0);
        });
      }

      it('succeeds on a delete-cas of a missing key, as a plain cas delete does', async function () {
        const result = okTxn(
          await store.txn([
            { op: 'set', key: 'a', value: b('1') },
            { op: 'delete-cas', key: 'missing', index: 5 },
          ]),
        );
        expect(result.results[1]).to.equal(null);
        expect((await store.get('a'))!.value.toString()).to.equal('1');
      });

      it('returns an empty list for a get-tree that matches nothing', async function () {
        await put('a', '1');
        const result = okTxn(await store.txn([{ op: 'get-tree', key: 'nothing/' }]));
        expect(result.results).to.deep.equal([[]]);
      });

      it('keeps the session on a txn set without one and clears it with null', async function () {
        okEntry(await store.put('lock', b('v'), { session: 's1', lockIndex: 2 }));
        const kept = okTxn(await store.txn([{ op: 'set', key: 'lock', value: b('v2') }]));
        expect(asEntry(kept.results[0]).session).to.equal('s1');
        const cleared = okTxn(
          await store.txn([{ op: 'set', key: 'lock', value: b('v3'), session: null }]),
        );
        expect(asEntry(cleared.results[0]).session ?? null).to.equal(null);
        expect(asEntry(cleared.results[0]).lockIndex).to.equal(2);
      });

      it(`accepts ${MAX_TXN_OPS} ops`, async function () {
        const ops: TxnOp[] = Array.from({ length: MAX_TXN_OPS }, (_, i) => ({
          op: 'set',
          key: `k/${i}`,
          value: b(String(i)),
        }));
        const result = okTxn(await store.txn(ops));
        expect(result.results).to.have.length(MAX_TXN_OPS);
        expect((await store.list('k/')).entries).to.have.length(MAX_TXN_OPS);
      });

      it(`rejects more than ${MAX_TXN_OPS} ops with InvalidArgumentError and writes nothing`, async function () {
        const ops: TxnOp[] = Array.from({ length: MAX_TXN_OPS + 1 }, (_, i) => ({
          op: 'set',
          key: `k/${i}`,
          value: b(String(i)),
        }));
        await expectTyped(store.txn(ops), InvalidArgumentError);
        expect(await keys()).to.deep.equal([]);
        expect(await store.currentIndex()).to.equal(0);
      });

      const malformed: [string, TxnOp, new (...args: never[]) => CausewayError, string][] = [
        [
          'an invalid key',
          { op: 'set', key: 'a//b', value: b('x') },
          InvalidKeyError,
          'ops[2].key',
        ],
        [
          'a value over 512 KiB',
          { op: 'set', key: 'big', value: Buffer.alloc(MAX_VALUE_BYTES + 1) },
          ValueTooLargeError,
          'ops[2].value',
        ],
        [
          'an unknown verb',
          { op: 'frobnicate', key: 'x' } as unknown as TxnOp,
          InvalidArgumentError,
          'ops[2].op',
        ],
        [
          'a negative cas index',
          { op: 'cas', key: 'x', value: b('x'), index: -1 },
          InvalidArgumentError,
          'ops[2].index',
        ],
      ];
      for (const [what, bad, type, field] of malformed) {
        it(`throws before applying anything when an op has ${what}`, async function () {
          await put('keep', 'k');
          const err = await expectTyped(
            store.txn([
              { op: 'set', key: 'first', value: b('1') },
              { op: 'delete', key: 'keep' },
              bad,
            ]),
            type,
          );
          expect(err.field).to.equal(field);
          expect(await keys()).to.deep.equal(['keep']);
          expect(await store.currentIndex()).to.equal(1);
        });
      }
    });

    describe('close', function () {
      it('rejects reads, writes and new watches with ClosedError after close', async function () {
        await put('k', 'v');
        await store.close();
        await store.close();
        await expectTyped(store.get('k'), ClosedError);
        await expectTyped(store.put('k', b('x')), ClosedError);
        await expectTyped(store.txn([{ op: 'get', key: 'k' }]), ClosedError);
        const err = await rejection(
          (async () => {
            await nextEvent(store.watch('', 0), EVENT_MS);
          })(),
        );
        expect(err).to.be.instanceOf(ClosedError);
      });
    });

    describe('watch', function () {
      const watches: AsyncIterableIterator<WatchEvent>[] = [];
      function watch(
        prefix: string,
        fromIndex: number,
        options?: WatchOptions,
        s: Store = store,
      ): AsyncIterableIterator<WatchEvent> {
        const w = s.watch(prefix, fromIndex, options);
        watches.push(w);
        return w;
      }
      afterEach(async function () {
        for (const w of watches.splice(0)) await w.return?.();
      });

      it('delivers puts, deletes and transactions in index order', async function () {
        const w = watch('', 0);
        await put('a', '1');
        await put('b', '2');
        await store.delete('a');
        okTxn(
          await store.txn([
            { op: 'set', key: 'c', value: b('3') },
            { op: 'delete', key: 'b' },
          ]),
        );
        const events = await collect(w, 4, EVENT_MS);
        const got = changesOf(events);
        expect(got.map((e) => e.index)).to.deep.equal([1, 2, 3, 4]);
        expect(got[0]!.changes).to.deep.equal(['put a=1']);
        expect(got[1]!.changes).to.deep.equal(['put b=2']);
        expect(got[2]!.changes).to.deep.equal(['delete a']);
        expect([...got[3]!.changes].sort()).to.deep.equal(['delete b', 'put c=3']);
      });

      it('carries the committed entry in each put change', async function () {
        const w = watch('k', 0, { exact: true });
        const e = okEntry(await store.put('k', b('v'), { flags: 5 }));
        const event = asChange(await nextEvent(w, EVENT_MS));
        const change = event.changes[0];
        expect(change?.op).to.equal('put');
        if (change?.op === 'put') expect(view(change.entry)).to.deep.equal(view(e));
      });

      it('delivers a recursive delete as one event with every removed key', async function () {
        for (const k of ['d/1', 'd/2', 'd/3']) await put(k, k);
        const w = watch('d/', 3);
        await store.delete('d/', { recurse: true });
        const event = asChange(await nextEvent(w, EVENT_MS));
        expect(event.index).to.equal(4);
        expect(event.changes.map(changeView).sort()).to.deep.equal([
          'delete d/1',
          'delete d/2',
          'delete d/3',
        ]);
      });

      it('replays history from index 0 on a store that retains it', async function () {
        await put('a', '1');
        await put('a', '2');
        await put('a', '3');
        const events = changesOf(await collect(watch('a', 0), 3, EVENT_MS));
        expect(events.map((e) => e.changes[0])).to.deep.equal(['put a=1', 'put a=2', 'put a=3']);
      });

      it('resumes from an index with exactly the missed batches, then live ones', async function () {
        for (let i = 1; i <= 10; i++) await put('k', `v${i}`);
        const w = watch('k', 4);
        const missed = changesOf(await collect(w, 6, EVENT_MS));
        expect(missed.map((e) => e.index)).to.deep.equal([5, 6, 7, 8, 9, 10]);
        expect(missed.map((e) => e.changes[0])).to.deep.equal([
          'put k=v5',
          'put k=v6',
          'put k=v7',
          'put k=v8',
          'put k=v9',
          'put k=v10',
        ]);
        await put('k', 'v11');
        const live = asChange(await nextEvent(w, EVENT_MS));
        expect(live.index).to.equal(11);
        expect(live.changes.map(changeView)).to.deep.equal(['put k=v11']);
      });

      it('delivers nothing old when watching from the current index', async function () {
        await put('k', 'old');
        const w = watch('', await store.currentIndex());
        const pending = w.next();
        expect((await raceTimeout(pending, QUIET_MS)).timedOut).to.equal(true);
        await put('k', 'new');
        const event = asChange(await withTimeout(pending, EVENT_MS, 'the live event'));
        expect(event.changes.map(changeView)).to.deep.equal(['put k=new']);
      });

      it('filters by prefix, trimming a mixed batch to the matching changes', async function () {
        const w = watch('a/', 0);
        await put('b/1', 'x');
        await put('ab', 'x');
        await put('a/1', 'y');
        okTxn(
          await store.txn([
            { op: 'set', key: 'b/2', value: b('x') },
            { op: 'set', key: 'a/2', value: b('z') },
          ]),
        );
        const events = changesOf(await collect(w, 2, EVENT_MS));
        expect(events).to.deep.equal([
          { index: 3, changes: ['put a/1=y'] },
          { index: 4, changes: ['put a/2=z'] },
        ]);
      });

      it('wakes an exact watch on a missing key only for that key', async function () {
        const w = watch('k', await store.currentIndex(), { exact: true });
        const pending = w.next();
        await put('k/child', 'x');
        await put('k2', 'x');
        await put('other', 'x');
        expect((await raceTimeout(pending, QUIET_MS)).timedOut).to.equal(true);
        await put('k', 'mine');
        const event = asChange(await withTimeout(pending, EVENT_MS, 'the exact-key event'));
        expect(event.index).to.equal(4);
        expect(event.changes.map(changeView)).to.deep.equal(['put k=mine']);
      });

      it('wakes a watch on a missing prefix only when something under it changes', async function () {
        const w = watch('svc/', 0);
        const pending = w.next();
        await put('svc', 'x');
        await put('other/1', 'x');
        expect((await raceTimeout(pending, QUIET_MS)).timedOut).to.equal(true);
        await put('svc/web', 'w');
        const event = asChange(await withTimeout(pending, EVENT_MS, 'the prefix event'));
        expect(event.changes.map(changeView)).to.deep.equal(['put svc/web=w']);
      });

      it('emits no event for a failed cas or a delete that removed nothing', async function () {
        const e = await put('k', 'v');
        const w = watch('', e.modifyIndex);
        expect((await store.put('k', b('x'), { cas: e.modifyIndex + 1 })).ok).to.equal(false);
        await store.delete('missing');
        await store.delete('zzz/', { recurse: true });
        await put('k', 'next');
        const event = asChange(await nextEvent(w, EVENT_MS));
        expect(event.index).to.equal(e.modifyIndex + 1);
        expect(event.changes.map(changeView)).to.deep.equal(['put k=next']);
      });

      it('asks for a resync and ends when fromIndex is older than retained history', async function () {
        const small = await open({ historyLimit: 5 });
        for (let i = 0; i < 200; i++) await put('k', `v${i}`, small);
        const events = await drain(watch('k', 1, {}, small), EVENT_MS);
        expect(events).to.have.length(1);
        const [event] = events;
        expect(event?.type).to.equal('resync');
        if (event?.type === 'resync') {
          expect(event.index).to.be.a('number');
          expect(event.reason).to.be.a('string').and.not.equal('');
        }
      });

      it('still serves recent history when the store keeps a short one', async function () {
        const small = await open({ historyLimit: 5 });
        for (let i = 1; i <= 20; i++) await put('k', `v${i}`, small);
        const events = changesOf(await collect(watch('k', 18, {}, small), 2, EVENT_MS));
        expect(events.map((e) => e.index)).to.deep.equal([19, 20]);
      });

      it('does not ask an up-to-date watcher to resync after history was trimmed', async function () {
        const small = await open({ historyLimit: 5 });
        for (let i = 0; i < 200; i++) await put('k', `v${i}`, small);
        const w = watch('k', await small.currentIndex(), {}, small);
        const pending = w.next();
        expect((await raceTimeout(pending, QUIET_MS)).timedOut).to.equal(true);
        await put('k', 'live', small);
        const event = asChange(await withTimeout(pending, EVENT_MS, 'the live event'));
        expect(event.index).to.equal(201);
      });

      it('asks for a resync and ends when fromIndex is ahead of the current index', async function () {
        await put('k', 'v');
        const events = await drain(watch('k', 100), EVENT_MS);
        expect(events.map((e) => e.type)).to.deep.equal(['resync']);
      });

      it('hands over from replay to live changes without a gap or a duplicate', async function () {
        for (let i = 1; i <= 50; i++) await put('r', `v${i}`);
        const w = watch('r', 0);
        const writes = (async () => {
          for (let i = 51; i <= 100; i++) await put('r', `v${i}`);
        })();
        const events = changesOf(await collect(w, 100, 10_000));
        await writes;
        expect(events.map((e) => e.index)).to.deep.equal(
          Array.from({ length: 100 }, (_, i) => i + 1),
        );
        expect(events.map((e) => e.changes[0])).to.deep.equal(
          Array.from({ length: 100 }, (_, i) => `put r=v${i + 1}`),
        );
      });

      it('filters replayed history for an exact watch too', async function () {
        await put('k/child', 'x');
        await put('k', 'mine');
        await put('k2', 'x');
        const w = watch('k', 0, { exact: true });
        const first = asChange(await nextEvent(w, EVENT_MS));
        expect(first.index).to.equal(2);
        expect((await raceTimeout(w.next(), QUIET_MS)).timedOut).to.equal(true);
      });

      it('tells an exact watch about its key removed by a recursive delete', async function () {
        await put('k/a', '1');
        await put('k/b', '2');
        const w = watch('k/a', 2, { exact: true });
        await store.delete('k/', { recurse: true });
        const event = asChange(await nextEvent(w, EVENT_MS));
        expect(event.changes.map(changeView)).to.deep.equal(['delete k/a']);
      });

      it('gives every watcher the same events', async function () {
        const ws = [watch('', 0), watch('', 0), watch('x/', 0)];
        await put('x/1', '1');
        okTxn(
          await store.txn([
            { op: 'set', key: 'x/2', value: b('2') },
            { op: 'set', key: 'y', value: b('3') },
          ]),
        );
        const [a, c, x] = await Promise.all(ws.map((w) => collect(w, 2, EVENT_MS)));
        expect(changesOf(a!)).to.deep.equal(changesOf(c!));
        expect(changesOf(x!)).to.deep.equal([
          { index: 1, changes: ['put x/1=1'] },
          { index: 2, changes: ['put x/2=2'] },
        ]);
      });

      it('carries binary values and txn indexes in watch entries', async function () {
        const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        const w = watch('bin', 0, { exact: true });
        const result = okTxn(await store.txn([{ op: 'set', key: 'bin', value: all, flags: 3 }]));
        const change = asChange(await nextEvent(w, EVENT_MS)).changes[0];
        if (change?.op !== 'put') expect.fail('expected a put change');
        expect(change.entry.value.equals(all)).to.equal(true);
        expect(change.entry.modifyIndex).to.equal(result.index);
        expect(change.entry.flags).to.equal(3);
      });

      it('ends the iteration when its signal is aborted', async function () {
        const ac = new AbortController();
        const w = watch('', 0, { signal: ac.signal });
        const pending = w.next();
        ac.abort();
        const result = await withTimeout(pending, EVENT_MS, 'the end after abort');
        expect(result.done).to.equal(true);
        expect((await nextEvent(w, EVENT_MS)).done).to.equal(true);
      });

      it('ends at once when given an already aborted signal', async function () {
        await put('k', 'v');
        const w = watch('', 0, { signal: AbortSignal.abort() });
        expect(await drain(w, EVENT_MS)).to.deep.equal([]);
      });

      it('ends the iteration on return()', async function () {
        const w = watch('', 0);
        await put('k', 'v');
        asChange(await nextEvent(w, EVENT_MS));
        const returned = await withTimeout(w.return!(), EVENT_MS, 'return()');
        expect(returned.done).to.equal(true);
        await put('k', 'v2');
        expect((await nextEvent(w, EVENT_MS)).done).to.equal(true);
      });

      it('ends a for-await loop that breaks', async function () {
        const w = watch('', 0);
        await put('k', 'v');
        let seen = 0;
        await withTimeout(
          (async () => {
            for await (const event of w) {
              expect(event.type).to.equal('change');
              seen++;
              break;
            }
          })(),
          EVENT_MS,
          'the for-await loop',
        );
        expect(seen).to.equal(1);
        expect((await nextEvent(w, EVENT_MS)).done).to.equal(true);
      });

      it('ends every watch on close()', async function () {
        const s = await open();
        const w1 = watch('', 0, {}, s);
        const w2 = watch('k', 0, { exact: true }, s);
        const p1 = w1.next();
        const p2 = w2.next();
        await s.close();
        expect((await withTimeout(p1, EVENT_MS, 'watch 1 end')).done).to.equal(true);
        expect((await withTimeout(p2, EVENT_MS, 'watch 2 end')).done).to.equal(true);
        await s.close(); // idempotent
      });

      it('rejects an invalid prefix or fromIndex with a typed error', async function () {
        const cases: [string, number, new (...args: never[]) => CausewayError][] = [
          ['/bad', 0, InvalidKeyError],
          ['a//b', 0, InvalidKeyError],
          ['k', -1, InvalidArgumentError],
          ['k', 1.5, InvalidArgumentError],
        ];
        for (const [prefix, from, type] of cases) {
          // Either watch() throws or the first next() rejects; both are fine.
          const err = await rejection(
            (async () => {
              const w = watch(prefix, from);
              await nextEvent(w, EVENT_MS);
            })(),
          );
          expect(err, `${prefix} from ${from}`).to.be.instanceOf(type);
        }
      });

      it('delivers all of 500 writes in order to a consumer that reads only afterwards', async function () {
        this.timeout(60_000);
        const w = watch('bulk/', 0);
        for (let i = 1; i <= 500; i++) await put(`bulk/${i % 7}`, `v${i}`);
        const events = changesOf(await collect(w, 500, 30_000));
        expect(events).to.have.length(500);
        events.forEach((e, i) => {
          expect(e.index).to.equal(i + 1);
          expect(e.changes).to.deep.equal([`put bulk/${(i + 1) % 7}=v${i + 1}`]);
        });
      });
    });
  });
}

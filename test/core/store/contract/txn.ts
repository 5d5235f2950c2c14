/**
 * Transactions: every verb, reads of earlier writes, rollback on a failed check, and ops
 * refused up front.
 */
import { expect } from 'chai';
import type { CausewayError } from '../../../../core/src/errors.ts';
import {
  InvalidArgumentError,
  InvalidKeyError,
  ValueTooLargeError,
} from '../../../../core/src/errors.ts';
import { MAX_TXN_OPS, MAX_VALUE_BYTES } from '../../../../core/src/store/types.ts';
import type { Entry, TxnOp } from '../../../../core/src/store/types.ts';
import { collect, nextEvent } from '../../../helpers/async.ts';
import type { ContractContext } from './context.ts';
import {
  EVENT_MS,
  asChange,
  asEntry,
  b,
  changeView,
  changesOf,
  expectTyped,
  failedTxn,
  okEntry,
  okTxn,
  view,
} from './helpers.ts';

export function describeTransactions(ctx: ContractContext): void {
  const { store, put, keys } = ctx;

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

    it('commits two sets of one key as one index and one change carrying the last value', async function () {
      const before = await store.currentIndex();
      const watch = store.watch('', before);
      try {
        const result = okTxn(
          await store.txn([
            { op: 'set', key: 'a', value: b('1') },
            { op: 'set', key: 'a', value: b('2') },
          ]),
        );
        expect(result.index).to.equal(before + 1);
        expect(await store.currentIndex()).to.equal(before + 1);
        await put('after', 'x');
        const events = changesOf(await collect(watch, 2, EVENT_MS));
        expect(events).to.deep.equal([
          { index: before + 1, changes: ['put a=2'] },
          { index: before + 2, changes: ['put after=x'] },
        ]);
      } finally {
        await watch.return?.();
      }
    });

    it('writes nothing for a txn with no net change (set then delete of a missing key)', async function () {
      await put('other', 'o');
      const before = await store.currentIndex();
      const watch = store.watch('', before);
      try {
        const result = okTxn(
          await store.txn([
            { op: 'set', key: 'n', value: b('1') },
            { op: 'delete', key: 'n' },
          ]),
        );
        expect(result.index).to.equal(before);
        expect(result.results).to.have.length(2);
        expect(await store.currentIndex()).to.equal(before);
        expect(await store.get('n')).to.equal(null);
        // The next event must be the next real write: the no-op txn sent none.
        await put('after', 'x');
        const event = asChange(await nextEvent(watch, EVENT_MS));
        expect(event.index).to.equal(before + 1);
        expect(event.changes.map(changeView)).to.deep.equal(['put after=x']);
      } finally {
        await watch.return?.();
      }
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

    it('reports every op that failed, not just the first, and writes nothing', async function () {
      const k = await put('k', 'v');
      const result = failedTxn(
        await store.txn([
          { op: 'check-index', key: 'k', index: k.modifyIndex + 9 },
          { op: 'set', key: 'a', value: b('1') },
          { op: 'check-not-exists', key: 'k' },
          { op: 'get', key: 'missing' },
        ]),
      );
      expect(result.errors.map((e) => e.opIndex)).to.deep.equal([0, 2, 3]);
      for (const e of result.errors) expect(e.what).to.be.a('string').and.not.equal('');
      expect(await store.get('a')).to.equal(null);
      expect(await store.currentIndex()).to.equal(k.modifyIndex);
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
      ['cas with a stale index', (idx) => ({ op: 'cas', key: 'k', value: b('x'), index: idx + 9 })],
      [
        'cas with index 0 on an existing key',
        () => ({ op: 'cas', key: 'k', value: b('x'), index: 0 }),
      ],
      ['delete-cas with a stale index', (idx) => ({ op: 'delete-cas', key: 'k', index: idx + 9 })],
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
        const result = failedTxn(await store.txn([{ op: 'set', key: 'a', value: b('1') }, check]));
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
      ['an invalid key', { op: 'set', key: 'a//b', value: b('x') }, InvalidKeyError, 'ops[2].key'],
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
      [
        'a check-session without a session',
        { op: 'check-session', key: 'keep' } as unknown as TxnOp,
        InvalidArgumentError,
        'ops[2].session',
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
}

/** Watches: delivery in index order, filtering, replay and resync, and how a watch ends. */
import { expect } from 'chai';
import type { CausewayError } from '../../../../core/src/errors.ts';
import { InvalidArgumentError, InvalidKeyError } from '../../../../core/src/errors.ts';
import type { Store, WatchEvent, WatchOptions } from '../../../../core/src/store/types.ts';
import { collect, drain, nextEvent, raceTimeout, withTimeout } from '../../../helpers/async.ts';
import type { ContractContext } from './context.ts';
import {
  EVENT_MS,
  QUIET_MS,
  asChange,
  b,
  changeView,
  changesOf,
  okEntry,
  okTxn,
  rejection,
  view,
} from './helpers.ts';

export function describeWatch(ctx: ContractContext): void {
  const { store, open, put } = ctx;

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

    it('gives each watcher its own copy of a change to modify', async function () {
      const mine = watch('k', 0);
      const theirs = watch('k', 0);
      // A first change brings both watchers up to date, so the next one reaches them live.
      await put('k', 'first');
      await Promise.all([nextEvent(mine, EVENT_MS), nextEvent(theirs, EVENT_MS)]);
      await put('k', 'orig');
      const change = asChange(await nextEvent(mine, EVENT_MS)).changes[0];
      if (change?.op !== 'put') expect.fail('expected a put change');
      change.entry.value.write('XXXX');
      change.entry.flags = 99;
      const other = asChange(await nextEvent(theirs, EVENT_MS)).changes[0];
      if (other?.op !== 'put') expect.fail('expected a put change');
      expect([other.entry.value.toString(), other.entry.flags]).to.deep.equal(['orig', 0]);
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
}

import { expect } from 'chai';
import { DEFAULT_MAX_BUFFERED, WatchChannel } from '../../../core/src/store/watch-channel.ts';
import type { ChangeBatch, Entry, WatchEvent } from '../../../core/src/store/types.ts';
import { collect, drain, nextEvent, raceTimeout, withTimeout } from '../../helpers/async.ts';

function entry(key: string, index: number): Entry {
  return {
    key,
    value: Buffer.from(key),
    flags: 0,
    createIndex: index,
    modifyIndex: index,
    lockIndex: 0,
  };
}

/** A batch at `index` putting each key (or deleting it, for keys written as "-key"). */
function batch(index: number, ...keys: string[]): ChangeBatch {
  return {
    index,
    changes: keys.map((k) =>
      k.startsWith('-')
        ? { op: 'delete', key: k.slice(1) }
        : { op: 'put', key: k, entry: entry(k, index) },
    ),
  };
}

/** The event of a result that must not be the end. */
function eventOf(result: IteratorResult<WatchEvent>): WatchEvent {
  if (result.done === true) expect.fail('the watch ended; expected an event');
  return result.value;
}

/** Each event as `index:type:keys` for compact comparison. */
function summary(events: WatchEvent[]): string[] {
  return events.map((e) =>
    e.type === 'change'
      ? `${e.index}:change:${e.changes.map((c) => (c.op === 'put' ? c.key : `-${c.key}`)).join(',')}`
      : `${e.index}:resync`,
  );
}

describe('WatchChannel', function () {
  describe('matching', function () {
    it('matches every key under the prefix', function () {
      const ch = new WatchChannel({ prefix: 'a/' });
      expect(ch.matches('a/1')).to.equal(true);
      expect(ch.matches('a/')).to.equal(true);
      expect(ch.matches('a')).to.equal(false);
      expect(ch.matches('ab/1')).to.equal(false);
    });

    it('matches only the key itself when exact', function () {
      const ch = new WatchChannel({ prefix: 'k', exact: true });
      expect(ch.exact).to.equal(true);
      expect(ch.matches('k')).to.equal(true);
      expect(ch.matches('k/1')).to.equal(false);
      expect(ch.matches('k2')).to.equal(false);
    });

    it('matches everything with the empty prefix', function () {
      const ch = new WatchChannel({ prefix: '' });
      expect(ch.matches('anything/at/all')).to.equal(true);
    });
  });

  describe('delivery', function () {
    it('delivers buffered batches in the order they were offered', async function () {
      const ch = new WatchChannel({ prefix: '' });
      ch.offer(batch(1, 'a'));
      ch.offer(batch(2, '-a'));
      ch.offer(batch(3, 'b', 'c'));
      expect(summary(await collect(ch, 3, 1000))).to.deep.equal([
        '1:change:a',
        '2:change:-a',
        '3:change:b,c',
      ]);
    });

    it('wakes a consumer already waiting', async function () {
      const ch = new WatchChannel({ prefix: '' });
      const pending = ch.next();
      ch.offer(batch(7, 'k'));
      const result = await withTimeout(pending, 1000);
      expect(result.done).to.equal(false);
      expect(summary([eventOf(result)])).to.deep.equal(['7:change:k']);
    });

    it('serves concurrent next() calls in call order, one event each', async function () {
      const ch = new WatchChannel({ prefix: '' });
      const first = ch.next();
      const second = ch.next();
      ch.offer(batch(1, 'a'));
      ch.offer(batch(2, 'b'));
      expect(summary([eventOf(await withTimeout(first, 1000))])).to.deep.equal(['1:change:a']);
      expect(summary([eventOf(await withTimeout(second, 1000))])).to.deep.equal(['2:change:b']);
    });

    it('keeps only the matching changes of a mixed batch', async function () {
      const ch = new WatchChannel({ prefix: 'a/' });
      const offered = batch(4, 'a/1', 'b/1', '-a/2', 'ab');
      ch.offer(offered);
      expect(summary(await collect(ch, 1, 1000))).to.deep.equal(['4:change:a/1,-a/2']);
      expect(offered.changes).to.have.length(4);
    });

    it('skips a batch with no matching change', async function () {
      const ch = new WatchChannel({ prefix: 'k', exact: true });
      ch.offer(batch(1, 'k/child'));
      ch.offer(batch(2, 'k2'));
      const pending = ch.next();
      expect((await raceTimeout(pending, 50)).timedOut).to.equal(true);
      ch.offer(batch(3, 'k'));
      const result = await withTimeout(pending, 1000);
      expect(summary([eventOf(result)])).to.deep.equal(['3:change:k']);
    });

    it('is its own async iterator', async function () {
      const ch = new WatchChannel({ prefix: '' });
      expect(ch[Symbol.asyncIterator]()).to.equal(ch);
      ch.offer(batch(1, 'a'));
      ch.offer(batch(2, 'b'));
      const seen: number[] = [];
      for await (const event of ch) {
        seen.push(event.index);
        if (seen.length === 2) break;
      }
      expect(seen).to.deep.equal([1, 2]);
      expect(ch.closed).to.equal(true);
    });
  });

  describe('slow consumers', function () {
    it('turns overflow into a resync at the overflowing index and then ends', async function () {
      let closes = 0;
      const ch = new WatchChannel({ prefix: '', maxBuffered: 2, onClose: () => closes++ });
      ch.offer(batch(1, 'a'));
      ch.offer(batch(2, 'b'));
      expect(closes).to.equal(0);
      ch.offer(batch(3, 'c'));
      expect(ch.closed).to.equal(true);
      expect(closes).to.equal(1);
      ch.offer(batch(4, 'd'));
      const events = await drain(ch, 1000);
      expect(summary(events)).to.deep.equal(['3:resync']);
      const [resync] = events;
      if (resync?.type === 'resync') expect(resync.reason).to.include('fell behind');
    });

    it('never overflows a consumer that keeps up', async function () {
      const ch = new WatchChannel({ prefix: '', maxBuffered: 1 });
      for (let i = 1; i <= 50; i++) {
        ch.offer(batch(i, 'k'));
        const event = eventOf(await nextEvent(ch, 1000));
        expect(event.type).to.equal('change');
        expect(event.index).to.equal(i);
      }
      expect(ch.closed).to.equal(false);
    });

    it('does not count skipped batches against the buffer', async function () {
      const ch = new WatchChannel({ prefix: 'a/', maxBuffered: 1 });
      ch.offer(batch(1, 'a/1'));
      for (let i = 2; i < 10; i++) ch.offer(batch(i, 'b/x'));
      expect(ch.closed).to.equal(false);
      expect(summary(await collect(ch, 1, 1000))).to.deep.equal(['1:change:a/1']);
    });

    it(`buffers ${DEFAULT_MAX_BUFFERED} events by default`, async function () {
      const ch = new WatchChannel({ prefix: '' });
      for (let i = 1; i <= DEFAULT_MAX_BUFFERED; i++) ch.offer(batch(i, 'k'));
      expect(ch.closed).to.equal(false);
      ch.offer(batch(DEFAULT_MAX_BUFFERED + 1, 'k'));
      expect(summary(await drain(ch, 1000))).to.deep.equal([`${DEFAULT_MAX_BUFFERED + 1}:resync`]);
    });
  });

  describe('resync', function () {
    it('drops undelivered events, yields the resync, then ends', async function () {
      const ch = new WatchChannel({ prefix: '' });
      ch.offer(batch(1, 'a'));
      ch.resync(9, 'history trimmed');
      ch.offer(batch(10, 'b'));
      ch.resync(11, 'ignored once closed');
      const events = await drain(ch, 1000);
      expect(events).to.deep.equal([{ type: 'resync', index: 9, reason: 'history trimmed' }]);
      expect((await ch.next()).done).to.equal(true);
    });

    it('wakes a waiting consumer with the resync', async function () {
      const ch = new WatchChannel({ prefix: '' });
      const pending = ch.next();
      ch.resync(3, 'store reset');
      expect((await withTimeout(pending, 1000)).value).to.deep.equal({
        type: 'resync',
        index: 3,
        reason: 'store reset',
      });
      expect((await ch.next()).done).to.equal(true);
    });
  });

  describe('ending', function () {
    it('ends a pending next() and drops buffered events on close()', async function () {
      let closes = 0;
      const ch = new WatchChannel({ prefix: '', onClose: () => closes++ });
      const pending = ch.next();
      ch.close();
      expect((await withTimeout(pending, 1000)).done).to.equal(true);

      const buffered = new WatchChannel({ prefix: '' });
      buffered.offer(batch(1, 'a'));
      buffered.close();
      expect(await drain(buffered, 1000)).to.deep.equal([]);

      ch.close();
      expect(closes).to.equal(1);
    });

    it('ends every pending next() on close(), not only the last one', async function () {
      const ch = new WatchChannel({ prefix: '' });
      const pending = [ch.next(), ch.next(), ch.next()];
      ch.close();
      const results = await withTimeout(Promise.all(pending), 1000);
      expect(results.map((r) => r.done)).to.deep.equal([true, true, true]);
    });

    it('gives a resync to the oldest pending next() and ends the others', async function () {
      const ch = new WatchChannel({ prefix: '' });
      const first = ch.next();
      const second = ch.next();
      ch.resync(5, 'gone');
      expect(eventOf(await withTimeout(first, 1000)).type).to.equal('resync');
      expect((await withTimeout(second, 1000)).done).to.equal(true);
    });

    it('ends when its signal is aborted, calling onClose once', async function () {
      let closes = 0;
      const ac = new AbortController();
      const ch = new WatchChannel({ prefix: '', signal: ac.signal, onClose: () => closes++ });
      const pending = ch.next();
      ac.abort();
      expect((await withTimeout(pending, 1000)).done).to.equal(true);
      expect(ch.closed).to.equal(true);
      ch.close();
      expect(closes).to.equal(1);
    });

    it('starts closed with an already aborted signal', async function () {
      let closes = 0;
      const ch = new WatchChannel({
        prefix: '',
        signal: AbortSignal.abort(),
        onClose: () => closes++,
      });
      expect(ch.closed).to.equal(true);
      // onClose is deferred so that it may refer to the channel being constructed.
      expect(closes).to.equal(0);
      await Promise.resolve();
      expect(closes).to.equal(1);
      ch.offer(batch(1, 'a'));
      expect((await nextEvent(ch, 1000)).done).to.equal(true);
    });

    it('stops listening to the signal once it has ended', function () {
      const ac = new AbortController();
      let closes = 0;
      const ch = new WatchChannel({ prefix: '', signal: ac.signal, onClose: () => closes++ });
      ch.resync(1, 'gone');
      ac.abort();
      expect(closes).to.equal(1);
      // The resync is still delivered: an abort after the end must not drop it.
      return ch.next().then((r) => expect(eventOf(r).type).to.equal('resync'));
    });

    it('ends on return(), which answers done', async function () {
      let closes = 0;
      const ch = new WatchChannel({ prefix: '', onClose: () => closes++ });
      ch.offer(batch(1, 'a'));
      expect(await ch.return()).to.deep.equal({ done: true, value: undefined });
      expect(closes).to.equal(1);
      ch.offer(batch(2, 'b'));
      expect((await ch.next()).done).to.equal(true);
      await ch.return();
      expect(closes).to.equal(1);
    });
  });
});

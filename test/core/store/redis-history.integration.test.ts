/**
 * The Redis store when Redis loses part of its history against a real `redis-server`: the
 * last writes vanish while the epoch stays (a restart from an AOF missing its last second,
 * a failover to a lagging replica), a FLUSHALL under open watches, one of the namespace's
 * keys evicted on its own. Watchers must resync rather than skip, and watches opened after
 * the loss must work at once.
 */
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { redisKeys } from '../../../core/src/store/redis/codec.ts';
import { openRedisStore } from '../../../core/src/store/redis/redis-store.ts';
import type { RedisStore } from '../../../core/src/store/redis/redis-store.ts';
import type { WatchEvent } from '../../../core/src/store/types.ts';
import { collect, nextEvent, sleep } from '../../helpers/async.ts';
import { startRedis } from '../../helpers/redis-server.ts';
import type { RedisServer } from '../../helpers/redis-server.ts';
import { asChange, changeView, changesOf } from './contract/helpers.ts';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
let namespaces = 0;
const freshNamespace = (): string => `h${process.pid}-${++namespaces}`;

type Resync = Extract<WatchEvent, { type: 'resync' }>;

function asResync(result: IteratorResult<WatchEvent>): Resync {
  if (result.done === true) expect.fail('the watch ended; expected a resync');
  if (result.value.type !== 'resync') {
    expect.fail(`expected a resync, got ${JSON.stringify(result.value)}`);
  }
  return result.value;
}

describe('redis store history loss (redis.integration)', function () {
  this.timeout(30_000);
  let server: RedisServer;
  let cluster: RedisServer;
  let raw: Redis;
  const stores: RedisStore[] = [];

  before(async function () {
    [server, cluster] = await Promise.all([startRedis(), startRedis({ cluster: true })]);
    raw = new Redis({ host: '127.0.0.1', port: server.port });
  });

  after(async function () {
    raw.disconnect();
    await Promise.all([server.stop(), cluster.stop()]);
  });

  afterEach(async function () {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  async function open(namespace: string, url = server.url): Promise<RedisStore> {
    const store = await openRedisStore({ url, namespace });
    stores.push(store);
    return store;
  }

  /**
   * Copy every key of the namespace now; the returned function puts them back as they
   * were, which is what a restart from an older AOF does to the keys.
   */
  async function snapshot(namespace: string): Promise<() => Promise<void>> {
    const k = redisKeys(namespace);
    const keys = [k.index, k.keys, k.values, k.meta, k.log, k.epoch];
    const dumps = await Promise.all(keys.map((k) => raw.dumpBuffer(k)));
    return async () => {
      const m = raw.multi();
      keys.forEach((k, i) => {
        const dump = dumps[i];
        if (dump) m.restore(k, 0, dump, 'REPLACE');
        else m.del(k);
      });
      await m.exec();
    };
  }

  /** Cut every watch reader's connection, as a network blip would. */
  async function dropWatchReaders(): Promise<void> {
    const list = (await raw.client('LIST')) as string;
    for (const line of list.split('\n')) {
      if (!line.includes(' name=causeway-store-watch ')) continue;
      const id = /^id=(\d+) /.exec(line)?.[1];
      if (id !== undefined) await raw.client('KILL', 'ID', id);
    }
  }

  /** Two stores on one namespace with a watch on the first, which has seen indexes 1-5. */
  async function fiveWritesThenLoseThree(): Promise<{
    a: RedisStore;
    other: RedisStore;
    watch: AsyncIterableIterator<WatchEvent>;
  }> {
    const namespace = freshNamespace();
    const a = await open(namespace);
    const other = await open(namespace);
    const watch = a.watch('', 0);
    await a.put('k1', b('old'));
    await a.put('k2', b('old'));
    const rollBack = await snapshot(namespace);
    for (const k of ['k3', 'k4', 'k5']) await a.put(k, b('old'));
    const seen = changesOf(await collect(watch, 5, 5_000));
    expect(seen.map((e) => e.index)).to.deep.equal([1, 2, 3, 4, 5]);
    await rollBack();
    expect(await a.currentIndex()).to.equal(2);
    return { a, other, watch };
  }

  it('resyncs an open watch when Redis loses its last writes and others write past them', async function () {
    const { other, watch } = await fiveWritesThenLoseThree();
    // Indexes 3-5 are reused by different writes; 6 is the first the reader can see.
    for (const k of ['x3', 'x4', 'x5', 'x6']) await other.put(k, b('new'));
    const event = asResync(await nextEvent(watch, 3_000));
    expect(event.reason).to.match(/lost or replaced/);
  });

  it('resyncs an open watch when the lost writes are replaced up to the same index', async function () {
    const { other, watch } = await fiveWritesThenLoseThree();
    // The log is back at index 5, so nothing reaches the reader: its re-check after the
    // reconnect must notice that entry 5 is not the one it read.
    for (const k of ['x3', 'x4', 'x5']) await other.put(k, b('new'));
    await dropWatchReaders();
    const event = asResync(await nextEvent(watch, 3_000));
    expect(event.reason).to.match(/lost or replaced/);
  });

  it('serves a watch opened after Redis lost writes without a resync', async function () {
    const { a, other, watch } = await fiveWritesThenLoseThree();
    await other.put('x3', b('new'));
    const { index } = await a.list('');
    expect(index).to.equal(3);
    const fresh = a.watch('', index);
    try {
      // After the catch-up, so these reach the watch through the reader (woken off index 5).
      await sleep(200);
      for (const k of ['x4', 'x5', 'x6']) await other.put(k, b('new'));
      const events = changesOf(await collect(fresh, 3, 3_000));
      expect(events).to.deep.equal([
        { index: 4, changes: ['put x4=new'] },
        { index: 5, changes: ['put x5=new'] },
        { index: 6, changes: ['put x6=new'] },
      ]);
      asResync(await nextEvent(watch, 3_000));
    } finally {
      await fresh.return?.();
    }
  });

  for (const mode of ['standalone', 'cluster'] as const) {
    it(`serves watches listed after a FLUSHALL at once and without resyncs (${mode})`, async function () {
      const node = mode === 'cluster' ? cluster : server;
      const url = mode === 'cluster' ? `redis-cluster://127.0.0.1:${node.port}` : node.url;
      const store = await open(freshNamespace(), url);
      const old = store.watch('', 0);
      for (let i = 1; i <= 3; i++) await store.put('k', b(`v${i}`));
      await collect(old, 3, 5_000);
      const flusher = new Redis({ host: '127.0.0.1', port: node.port });
      try {
        await flusher.flushall();
      } finally {
        flusher.disconnect();
      }
      // Index 1 of a new epoch: below the reader's position, so its XREAD does not wake.
      await store.put('k', b('new'));
      for (let round = 2; round <= 4; round++) {
        const { index } = await store.list('');
        const watch = store.watch('', index);
        try {
          // Let the catch-up finish, so the change has to come through the live reader.
          await sleep(200);
          await store.put('k', b(`after-${round}`));
          // Well inside one XREAD block: the reader must have been woken, not timed out.
          const event = asChange(await nextEvent(watch, 1_000));
          expect(event.index).to.equal(round);
          expect(event.changes.map(changeView)).to.deep.equal([`put k=after-${round}`]);
        } finally {
          await watch.return?.();
        }
      }
      expect(asResync(await nextEvent(old, 3_000)).reason).to.match(/reset/);
    });
  }

  it('keeps writing in a new epoch when the index key alone is lost', async function () {
    const namespace = freshNamespace();
    const store = await open(namespace);
    const watch = store.watch('', 0);
    for (let i = 1; i <= 3; i++) await store.put('k', b(`v${i}`));
    await collect(watch, 3, 5_000);
    await raw.del(redisKeys(namespace).index); // evicted, say
    const result = await store.put('k', b('after'));
    if (!result.ok) expect.fail('the put must commit');
    // Above the log, so stream IDs keep rising; and a new epoch, so watchers resync.
    expect(result.entry.modifyIndex).to.equal(4);
    expect(asResync(await nextEvent(watch, 3_000)).reason).to.match(/reset/);
    const fresh = store.watch('', 4);
    try {
      await store.put('k', b('later'));
      const events = changesOf(await collect(fresh, 1, 3_000));
      expect(events).to.deep.equal([{ index: 5, changes: ['put k=later'] }]);
    } finally {
      await fresh.return?.();
    }
  });
});

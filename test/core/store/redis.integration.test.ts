/**
 * The Redis store against a real `redis-server`: the shared store contract, then what only
 * Redis can do to a store — restart with and without persistence under an open watch,
 * become unreachable, trim its change log, and carry arbitrary bytes through Lua.
 */
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { ConfigError, StoreUnavailableError } from '../../../core/src/errors.ts';
import { openRedisStore } from '../../../core/src/store/redis/redis-store.ts';
import type { RedisStore, RedisStoreOptions } from '../../../core/src/store/redis/redis-store.ts';
import type { WatchEvent } from '../../../core/src/store/types.ts';
import { collect, drain, nextEvent, sleep } from '../../helpers/async.ts';
import { startRedis, startSentinel } from '../../helpers/redis-server.ts';
import type { RedisServer, SentinelServer } from '../../helpers/redis-server.ts';
import { describeStoreContract } from './contract/index.ts';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
let namespaces = 0;
/** A namespace no other test in this process uses, so every store starts empty. */
const freshNamespace = (): string => `t${process.pid}-${++namespaces}`;

describe('redis store', function () {
  let server: RedisServer;

  before(async function () {
    this.timeout(20_000);
    server = await startRedis();
  });

  after(async function () {
    await server.stop();
  });

  describeStoreContract('redis', {
    open: (opts) =>
      openRedisStore({
        url: server.url,
        namespace: freshNamespace(),
        historyLimit: opts?.historyLimit,
      }),
  });
});

describe('redis store over Redis Cluster (one node owning every slot)', function () {
  let server: RedisServer;

  before(async function () {
    this.timeout(20_000);
    server = await startRedis({ cluster: true });
  });

  after(async function () {
    await server.stop();
  });

  describeStoreContract('redis-cluster', {
    open: (opts) =>
      openRedisStore({
        url: `redis-cluster://127.0.0.1:${server.port}`,
        namespace: freshNamespace(),
        historyLimit: opts?.historyLimit,
      }),
  });
});

describe('redis store through Sentinel', function () {
  this.timeout(30_000);
  let server: RedisServer;
  let sentinel: SentinelServer;

  before(async function () {
    server = await startRedis();
    sentinel = await startSentinel(server);
  });

  after(async function () {
    await sentinel.stop();
    await server.stop();
  });

  it('finds the master through the sentinel and serves reads, writes and watches', async function () {
    const store = await openRedisStore({ url: sentinel.url, namespace: freshNamespace() });
    try {
      const watch = store.watch('', 0);
      expect((await store.put('k', b('v'))).ok).to.equal(true);
      expect((await store.get('k'))?.value.toString()).to.equal('v');
      const event = await nextEvent(watch, 5_000);
      expect(event.done === true ? 'ended' : event.value.index).to.equal(1);
    } finally {
      await store.close();
    }
  });
});

describe('redis store failure handling (redis.integration)', function () {
  this.timeout(30_000);
  const stores: RedisStore[] = [];
  const servers: RedisServer[] = [];

  async function server(persistence: boolean): Promise<RedisServer> {
    const s = await startRedis({ persistence });
    servers.push(s);
    return s;
  }

  async function open(options: RedisStoreOptions): Promise<RedisStore> {
    const store = await openRedisStore({ namespace: freshNamespace(), ...options });
    stores.push(store);
    return store;
  }

  /** Retry a write until Redis is back after a restart (writes fail fast while it is away). */
  async function putEventually(store: RedisStore, key: string, value: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const result = await store.put(key, b(value));
        expect(result.ok).to.equal(true);
        return;
      } catch (err) {
        if (!(err instanceof StoreUnavailableError) || Date.now() > deadline) throw err;
        await sleep(50);
      }
    }
  }

  afterEach(async function () {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });

  it('keeps an open watch going without loss across a restart with persistence', async function () {
    const redis = await server(true);
    const store = await open({ url: redis.url });
    const watch = store.watch('app/', 0);
    await store.put('app/1', b('one'));
    await store.put('app/2', b('two'));
    await redis.restart();
    await putEventually(store, 'app/3', 'three');
    await store.put('app/4', b('four'));
    const events = await collect(watch, 4, 10_000);
    expect(events.map((e) => e.type)).to.deep.equal(['change', 'change', 'change', 'change']);
    expect(events.map((e) => e.index)).to.deep.equal([1, 2, 3, 4]);
    expect((await store.get('app/1'))?.value.toString()).to.equal('one');
    await watch.return?.();
  });

  it('tells an open watch to resync when Redis comes back empty', async function () {
    const redis = await server(false);
    const store = await open({ url: redis.url });
    await store.put('k', b('v1'));
    await store.put('k', b('v2'));
    const watch = store.watch('', 2);
    await redis.restart();
    // New writes after the reset reuse index numbers; the watch must not mistake them for
    // the continuation of its history.
    await putEventually(store, 'k', 'after-1');
    for (let i = 2; i <= 4; i++) await store.put('k', b(`after-${i}`));
    const events = await drain(watch, 10_000);
    expect(events.map((e) => e.type)).to.deep.equal(['resync']);
    expect((events[0] as Extract<WatchEvent, { type: 'resync' }>).reason).to.match(/reset/);
    expect(await store.currentIndex()).to.equal(4);
  });

  it('resyncs a watch on a reset even when nothing is written afterwards', async function () {
    const redis = await server(false);
    const store = await open({ url: redis.url });
    await store.put('k', b('v'));
    const watch = store.watch('', 1);
    await redis.restart();
    const event = await nextEvent(watch, 10_000);
    expect(event.done === true ? 'ended' : event.value.type).to.equal('resync');
  });

  it('resyncs a watch when the data is flushed and new writes reuse its indexes', async function () {
    const redis = await server(false);
    const store = await open({ url: redis.url });
    await store.put('k', b('v1'));
    await store.put('k', b('v2'));
    const watch = store.watch('', 2);
    const raw = new Redis({ port: redis.port, host: '127.0.0.1' });
    await raw.flushall();
    raw.disconnect();
    for (let i = 1; i <= 3; i++) await store.put('k', b(`new-${i}`));
    const events = await drain(watch, 10_000);
    expect(events.map((e) => e.type)).to.deep.equal(['resync']);
  });

  it('lets two stores on one namespace share data, CAS and watches', async function () {
    const redis = await server(false);
    const namespace = freshNamespace();
    const a = await open({ url: redis.url, namespace });
    const other = await open({ url: redis.url, namespace });
    const isolated = await open({ url: redis.url });
    const watch = other.watch('', 0);
    const first = await a.put('k', b('from-a'));
    if (!first.ok) expect.fail('the first put must commit');
    expect((await other.get('k'))?.value.toString()).to.equal('from-a');
    expect((await other.put('k', b('from-b'), { cas: first.entry.modifyIndex })).ok).to.equal(true);
    expect((await a.put('k', b('stale'), { cas: first.entry.modifyIndex })).ok).to.equal(false);
    const events = await collect(watch, 2, 5_000);
    expect(events.map((e) => e.index)).to.deep.equal([1, 2]);
    expect(await isolated.get('k')).to.equal(null);
    expect(await isolated.currentIndex()).to.equal(0);
    await watch.return?.();
  });

  it('fails fast with StoreUnavailableError when Redis is unreachable at open', async function () {
    const started = Date.now();
    let error: unknown;
    try {
      await openRedisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 500 });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(StoreUnavailableError);
    expect((error as Error).message).to.match(
      /redis at 127\.0\.0\.1:1 is unreachable: .*ECONNREFUSED/,
    );
    expect(Date.now() - started).to.be.lessThan(3_000);
  });

  it('gives up opening after connectTimeoutMs when Redis connects but does not answer', async function () {
    const redis = await server(false);
    const raw = new Redis({ port: redis.port, host: '127.0.0.1' });
    try {
      // Connecting and the handshake still work; the first script (the log probe) waits.
      await raw.call('CLIENT', 'PAUSE', '5000', 'WRITE');
      const started = Date.now();
      let error: unknown;
      try {
        stores.push(await openRedisStore({ url: redis.url, connectTimeoutMs: 500 }));
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(StoreUnavailableError);
      expect((error as Error).message).to.match(/did not answer within 500 ms/);
      expect(Date.now() - started).to.be.lessThan(2_000);
    } finally {
      await raw.call('CLIENT', 'UNPAUSE');
      raw.disconnect();
    }
  });

  it('fails calls fast with StoreUnavailableError once Redis goes away', async function () {
    const redis = await server(false);
    const store = await open({ url: redis.url });
    await store.put('k', b('v'));
    await redis.kill();
    const started = Date.now();
    for (const call of [
      () => store.get('k'),
      () => store.put('k', b('w')),
      () => store.currentIndex(),
    ]) {
      let error: unknown;
      try {
        await call();
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(StoreUnavailableError);
      expect((error as Error).message).to.include(`127.0.0.1:${redis.port}`);
    }
    expect(Date.now() - started).to.be.lessThan(5_000);
  });

  it('resyncs a watch from an index the trimmed log no longer holds', async function () {
    const redis = await server(false);
    const namespace = freshNamespace();
    const store = await open({ url: redis.url, namespace, historyLimit: 10 });
    for (let i = 1; i <= 300; i++) await store.put('k', b(`v${i}`));
    const raw = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true });
    await raw.connect();
    const length = await raw.xlen(`{cw:${namespace}}:log`);
    raw.disconnect();
    expect(length).to.be.lessThan(300);
    const events = await drain(store.watch('k', 1), 5_000);
    expect(events.map((e) => e.type)).to.deep.equal(['resync']);
    const recent = await collect(store.watch('k', 298), 2, 5_000);
    expect(recent.map((e) => e.index)).to.deep.equal([299, 300]);
  });

  it('round-trips all 256 byte values through put, get, list, txn and watch', async function () {
    const redis = await server(false);
    const store = await open({ url: redis.url });
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const reversed = Buffer.from(all).reverse();
    const watch = store.watch('bin/', 0);
    expect((await store.put('bin/a', all)).ok).to.equal(true);
    const txn = await store.txn([
      { op: 'set', key: 'bin/b', value: reversed },
      { op: 'get', key: 'bin/a' },
    ]);
    expect(txn.ok).to.equal(true);
    expect((await store.get('bin/a'))?.value.equals(all)).to.equal(true);
    const listed = (await store.list('bin/')).entries.map((e) => e.value);
    expect(listed.map((v) => v.toString('hex'))).to.deep.equal([
      all.toString('hex'),
      reversed.toString('hex'),
    ]);
    const events = await collect(watch, 2, 5_000);
    const values = events.flatMap((e) =>
      e.type === 'change'
        ? e.changes.flatMap((c) => (c.op === 'put' ? [c.entry.value.toString('hex')] : []))
        : [],
    );
    expect(values).to.deep.equal([all.toString('hex'), reversed.toString('hex')]);
    await watch.return?.();
  });

  it('rejects a namespace that would break the hash tag with ConfigError', async function () {
    let error: unknown;
    try {
      await openRedisStore({ url: 'redis://127.0.0.1:1', namespace: 'a}b' });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(ConfigError);
  });

  it('fails a write with StoreUnavailableError when too few replicas acknowledge it', async function () {
    const redis = await server(false);
    const store = await open({ url: redis.url, replicas: 1, replicaTimeoutMs: 100 });
    let error: unknown;
    try {
      await store.put('k', b('v'));
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(StoreUnavailableError);
    expect((error as Error).message).to.match(/0 of 1 replicas/);
    // Reads do not wait for replicas.
    expect((await store.get('k'))?.value.toString()).to.equal('v');
  });
});

/**
 * `npm run bench:store`: throughput and latency of the store contract on both backends,
 * beside raw ioredis GET/SET against the same redis-server as the physical reference.
 * Prints a table with ratios and rewrites its section of docs/benchmarks.md.
 *
 * Options (env): BENCH_OPS (default 20000), BENCH_CONCURRENCY (default 32),
 * BENCH_NO_DOC=1 to leave docs/benchmarks.md alone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { openEmbeddedStore } from '../core/src/store/embedded/embedded-store.ts';
import { openRedisStore } from '../core/src/store/redis/redis-store.ts';
import type { Store } from '../core/src/store/types.ts';
import { startRedis } from '../test/helpers/redis-server.ts';
import { updateBenchDoc } from './lib/bench-doc.ts';
import { fmt, measure, percentile } from './lib/measure.ts';
import type { Measurement } from './lib/measure.ts';

const OPS = Number(process.env.BENCH_OPS ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const VALUE = Buffer.alloc(64, 'v');
const WATCH_OPS = 5_000;

interface Row {
  target: string;
  op: string;
  m: Measurement;
}

async function benchStore(name: string, store: Store, ops: number): Promise<Row[]> {
  const rows: Row[] = [];
  const key = (i: number): string => `bench/${name}/k${i % 5000}`;
  rows.push({
    target: name,
    op: 'put',
    m: await measure(
      () => store.put(key(Math.floor(Math.random() * 1e9)), VALUE),
      ops,
      CONCURRENCY,
    ),
  });
  rows.push({
    target: name,
    op: 'get',
    m: await measure((i) => store.get(key(i)), ops, CONCURRENCY),
  });
  // CAS: each worker owns a key and writes it with the index it last wrote, so every CAS
  // holds (a failed one would measure the conflict path instead).
  const casIndex = new Map<number, number>();
  for (let w = 0; w < CONCURRENCY; w++) {
    const r = await store.put(`bench/${name}/cas${w}`, VALUE);
    if (r.ok) casIndex.set(w, r.entry.modifyIndex);
  }
  rows.push({
    target: name,
    op: 'cas',
    m: await measure(
      async (_i, w) => {
        const r = await store.put(`bench/${name}/cas${w}`, VALUE, { cas: casIndex.get(w) ?? 0 });
        if (!r.ok) throw new Error('benchmark CAS lost a race it cannot lose');
        casIndex.set(w, r.entry.modifyIndex);
      },
      ops,
      CONCURRENCY,
    ),
  });
  // A burst larger than a watcher's buffer (10,000 undelivered events) correctly ends in a
  // resync, because 32 writers outpace one consumer on the event loop; stay below it.
  rows.push({
    target: name,
    op: 'watch delivery',
    m: await benchWatch(name, store, Math.min(ops, WATCH_OPS)),
  });
  return rows;
}

/** Latency from the start of a put to the watcher seeing it, and delivered events per second. */
async function benchWatch(name: string, store: Store, ops: number): Promise<Measurement> {
  const prefix = `watch/${name}/`;
  const from = await store.currentIndex();
  const started = new Map<string, number>();
  const latencies = new Float64Array(ops);
  const ac = new AbortController();
  let seen = 0;
  const t0 = performance.now();
  const done = (async () => {
    for await (const ev of store.watch(prefix, from, { signal: ac.signal })) {
      if (ev.type === 'resync') throw new Error(`watch resync during benchmark: ${ev.reason}`);
      const now = performance.now();
      for (const c of ev.changes) latencies[seen++] = now - (started.get(c.key) ?? now);
      if (seen >= ops) break;
    }
  })();
  await measure(
    (i) => {
      const k = `${prefix}${i}`;
      started.set(k, performance.now());
      return store.put(k, VALUE);
    },
    ops,
    CONCURRENCY,
    0,
  );
  await done;
  ac.abort();
  const elapsed = performance.now() - t0;
  latencies.sort();
  return {
    ops,
    opsPerSec: (ops / elapsed) * 1000,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

async function benchRawRedis(url: string, ops: number): Promise<Row[]> {
  const redis = new Redis(url);
  const key = (i: number): string => `raw:k${i % 5000}`;
  const rows: Row[] = [
    {
      target: 'raw ioredis',
      op: 'put',
      m: await measure((i) => redis.set(key(i), VALUE), ops, CONCURRENCY),
    },
    {
      target: 'raw ioredis',
      op: 'get',
      m: await measure((i) => redis.getBuffer(key(i)), ops, CONCURRENCY),
    },
  ];
  redis.disconnect();
  return rows;
}

function table(rows: Row[]): string {
  const raw = new Map(rows.filter((r) => r.target === 'raw ioredis').map((r) => [r.op, r.m]));
  const lines = [
    '| backend | op | ops/s | p50 ms | p99 ms | ÷ raw ioredis |',
    '|---|---|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const ref = r.target === 'causeway redis' ? raw.get(r.op) : undefined;
    const ratio = ref ? fmt(r.m.opsPerSec / ref.opsPerSec, 2) : '';
    lines.push(
      `| ${r.target} | ${r.op} | ${fmt(r.m.opsPerSec)} | ${fmt(r.m.p50Ms, 3)} | ${fmt(r.m.p99Ms, 3)} | ${ratio} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cw-bench-'));
  const rows: Row[] = [];
  try {
    rows.push(...(await benchRawRedis(redis.url, OPS)));

    const mem = await openEmbeddedStore({});
    rows.push(...(await benchStore('embedded (memory)', mem, OPS)));
    await mem.close();

    const disk = await openEmbeddedStore({ dataDir: dir, fsync: true });
    rows.push(...(await benchStore('embedded (data dir, fsync)', disk, Math.min(OPS, 10_000))));
    await disk.close();

    const rs = await openRedisStore({ url: redis.url });
    rows.push(...(await benchStore('causeway redis', rs, OPS)));
    await rs.close();
  } finally {
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }

  const out = table(rows);
  const header =
    `Command: \`npm run bench:store\` (BENCH_OPS=${OPS}, concurrency ${CONCURRENCY}, ` +
    `64-byte values, one local redis-server 7 with appendonly off). ` +
    `Machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown cpu'}, Node ${process.version}. ` +
    `Run at ${new Date().toISOString()}.`;
  console.log(out);
  if (process.env.BENCH_NO_DOC !== '1') {
    await updateBenchDoc(path.resolve('docs/benchmarks.md'), 'store', `${header}\n\n${out}`);
    console.log('\nwrote docs/benchmarks.md (section "store")');
  }
}

await main();

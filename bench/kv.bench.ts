/**
 * `npm run bench:kv`: the zone's Consul-compatible KV API beside etcd's v3 JSON gateway
 * (Debian's etcd-server, installed with apt when missing), same client, same
 * concurrency, same machine, in one run. Prints ratios and rewrites the "kv" section of
 * docs/benchmarks.md.
 *
 * - get: `GET /v1/kv/<k>` vs etcd linearizable range; get (stale): `?stale` vs
 *   serializable range; put: `PUT /v1/kv/<k>` vs put; cas: read then conditional write
 *   (`?cas=<ModifyIndex>` vs txn on mod_revision), each worker on its own key.
 * - wake-up: time from a write to a watcher holding the key being told: a Consul blocking
 *   query (`?index=N&wait=30s`) vs an etcd watch stream, one write at a time.
 *
 * Env: BENCH_OPS (default 20000), BENCH_CONCURRENCY (32), BENCH_WAKEUPS (300),
 * BENCH_NO_DOC=1 to leave the docs alone. The zone runs on its embedded store in memory.
 */
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { updateBenchDoc } from './lib/bench-doc.ts';
import { startEtcd } from './lib/etcd-server.ts';
import { BenchHttpClient } from './lib/http-client.ts';
import { fmt, measure, percentile } from './lib/measure.ts';
import type { Measurement } from './lib/measure.ts';
import { startZoneProcess } from './lib/zone-process.ts';

const OPS = Number(process.env.BENCH_OPS ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const WAKEUPS = Number(process.env.BENCH_WAKEUPS ?? 300);
const KEYS = 1000;
const VALUE = 'v'.repeat(64);
const b64 = (s: string): string => Buffer.from(s).toString('base64');

function progress(what: string): void {
  process.stderr.write(`bench:kv: ${what}\n`);
}

type Ops = Record<'get' | 'get (stale)' | 'put' | 'cas' | 'wake-up', Measurement>;

async function benchZone(c: BenchHttpClient, host: string, port: number): Promise<Ops> {
  for (let i = 0; i < KEYS; i++) await c.ok('PUT', `/v1/kv/bench/k${i}`, VALUE);
  progress('zone: get');
  const get = await measure((i) => c.ok('GET', `/v1/kv/bench/k${i % KEYS}`), OPS, CONCURRENCY);
  const stale = await measure(
    (i) => c.ok('GET', `/v1/kv/bench/k${i % KEYS}?stale`),
    OPS,
    CONCURRENCY,
  );
  const put = await measure(
    (i) => c.ok('PUT', `/v1/kv/bench/k${i % KEYS}`, VALUE),
    OPS,
    CONCURRENCY,
  );
  const cas = await measure(
    async (_i, w) => {
      const res = await c.ok('GET', `/v1/kv/bench/cas${w}`).catch(() => undefined);
      const index = res
        ? (JSON.parse(res.body.toString()) as [{ ModifyIndex: number }])[0].ModifyIndex
        : 0;
      const ok = await c.ok('PUT', `/v1/kv/bench/cas${w}?cas=${index}`, VALUE);
      if (ok.body.toString().trim() !== 'true')
        throw new Error('zone CAS lost a race it cannot lose');
    },
    OPS,
    CONCURRENCY,
  );
  progress('zone: wake-up');
  // Wake-up: a separate connection holds the blocking query while the writer writes.
  const watcher = new BenchHttpClient(host, port, 1);
  const latencies = new Float64Array(WAKEUPS);
  await c.ok('PUT', '/v1/kv/bench/watched', 'x');
  let index = Number((await c.ok('GET', '/v1/kv/bench/watched')).headers['x-consul-index']);
  for (let n = 0; n < WAKEUPS; n++) {
    let wrote = 0;
    const blocked = watcher.ok('GET', `/v1/kv/bench/watched?index=${index}&wait=30s`).then((r) => {
      latencies[n] = performance.now() - wrote;
      return r;
    });
    await new Promise((r) => setTimeout(r, 5)); // let the query park
    wrote = performance.now();
    await c.ok('PUT', '/v1/kv/bench/watched', `x${n}`);
    index = Number((await blocked).headers['x-consul-index']);
  }
  watcher.close();
  return { get, 'get (stale)': stale, put, cas, 'wake-up': summarize(latencies) };
}

async function benchEtcd(c: BenchHttpClient, host: string, port: number): Promise<Ops> {
  const key = (i: number): string => b64(`bench/k${i % KEYS}`);
  const post = (p: string, body: unknown) => c.ok('POST', p, JSON.stringify(body));
  for (let i = 0; i < KEYS; i++) await post('/v3/kv/put', { key: key(i), value: b64(VALUE) });
  progress('etcd: get');
  const get = await measure((i) => post('/v3/kv/range', { key: key(i) }), OPS, CONCURRENCY);
  const stale = await measure(
    (i) => post('/v3/kv/range', { key: key(i), serializable: true }),
    OPS,
    CONCURRENCY,
  );
  const put = await measure(
    (i) => post('/v3/kv/put', { key: key(i), value: b64(VALUE) }),
    OPS,
    CONCURRENCY,
  );
  const cas = await measure(
    async (_i, w) => {
      const k = b64(`bench/cas${w}`);
      const res = await post('/v3/kv/range', { key: k });
      const kv = (JSON.parse(res.body.toString()) as { kvs?: { mod_revision: string }[] }).kvs?.[0];
      const rev = kv?.mod_revision ?? '0';
      const txn = await post('/v3/kv/txn', {
        compare: [{ key: k, target: 'MOD', mod_revision: rev, result: 'EQUAL' }],
        success: [{ request_put: { key: k, value: b64(VALUE) } }],
      });
      if (!(JSON.parse(txn.body.toString()) as { succeeded?: boolean }).succeeded) {
        throw new Error('etcd CAS lost a race it cannot lose');
      }
    },
    OPS,
    CONCURRENCY,
  );
  progress('etcd: wake-up');
  return { get, 'get (stale)': stale, put, cas, 'wake-up': await etcdWakeups(c, host, port) };
}

/** One watch stream; each put is timed until its event arrives on the stream. */
async function etcdWakeups(c: BenchHttpClient, host: string, port: number): Promise<Measurement> {
  const key = b64('bench/watched');
  const latencies = new Float64Array(WAKEUPS);
  let onEvent: (() => void) | undefined;
  const req = http.request({ host, port, method: 'POST', path: '/v3/watch' });
  const created = new Promise<void>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) !== -1 || tryWhole()) {
          const line = nl === -1 ? buffered : buffered.slice(0, nl);
          buffered = nl === -1 ? '' : buffered.slice(nl + 1);
          const msg = JSON.parse(line) as { result?: { created?: boolean; events?: unknown[] } };
          if (msg.result?.created) resolve();
          if (msg.result?.events?.length) onEvent?.();
        }
        function tryWhole(): boolean {
          // The gateway may send one JSON object per chunk without a newline.
          if (buffered.trim() === '') return false;
          try {
            JSON.parse(buffered);
            return true;
          } catch {
            return false;
          }
        }
      });
    });
  });
  // The gateway starts streaming once the request body is complete.
  req.end(JSON.stringify({ create_request: { key } }));
  await created;
  for (let n = 0; n < WAKEUPS; n++) {
    const seen = new Promise<void>((resolve) => (onEvent = resolve));
    const wrote = performance.now();
    await c.ok('POST', '/v3/kv/put', JSON.stringify({ key, value: b64(`x${n}`) }));
    await seen;
    latencies[n] = performance.now() - wrote;
    await new Promise((r) => setTimeout(r, 5)); // same pacing as the zone loop
  }
  req.destroy();
  return summarize(latencies);
}

function summarize(latencies: Float64Array): Measurement {
  const sorted = Float64Array.from(latencies).sort();
  const total = sorted.reduce((a, b) => a + b, 0);
  return {
    ops: sorted.length,
    opsPerSec: sorted.length / (total / 1000),
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  };
}

function table(zone: Ops, etcd: Ops): string {
  const lines = [
    '| op | causeway ops/s | etcd ops/s | ÷ etcd | causeway p50 / p99 ms | etcd p50 / p99 ms |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const op of Object.keys(zone) as (keyof Ops)[]) {
    const z = zone[op];
    const e = etcd[op];
    const wake = op === 'wake-up';
    lines.push(
      `| ${op} | ${wake ? '' : fmt(z.opsPerSec)} | ${wake ? '' : fmt(e.opsPerSec)} | ` +
        `${wake ? `${fmt(z.p99Ms / e.p99Ms, 2)} (p99)` : fmt(z.opsPerSec / e.opsPerSec, 2)} | ` +
        `${fmt(z.p50Ms, 3)} / ${fmt(z.p99Ms, 3)} | ${fmt(e.p50Ms, 3)} / ${fmt(e.p99Ms, 3)} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const etcd = await startEtcd();
  const zone = await startZoneProcess();
  const zc = new BenchHttpClient(zone.host, zone.port, CONCURRENCY);
  const ec = new BenchHttpClient(etcd.host, etcd.port, CONCURRENCY);
  let out: string;
  try {
    const z = await benchZone(zc, zone.host, zone.port);
    const e = await benchEtcd(ec, etcd.host, etcd.port);
    out = table(z, e);
  } finally {
    zc.close();
    ec.close();
    await zone.stop();
    await etcd.stop();
  }
  const header =
    `Command: \`npm run bench:kv\` (BENCH_OPS=${OPS}, concurrency ${CONCURRENCY}, ` +
    `${WAKEUPS} wake-ups, 64-byte values, ${KEYS} keys; zone: \`causeway run zone --dev\` ` +
    `on the in-memory embedded store; etcd 3.4 single member via its v3 JSON gateway; one ` +
    `keep-alive HTTP client for both). Machine: ${os.cpus().length} cores, ` +
    `${os.cpus()[0]?.model ?? 'unknown cpu'}, Node ${process.version}. Run at ${new Date().toISOString()}.`;
  console.log(out);
  if (process.env.BENCH_NO_DOC !== '1') {
    await updateBenchDoc(path.resolve('docs/benchmarks.md'), 'kv', `${header}\n\n${out}`);
    console.log('\nwrote docs/benchmarks.md (section "kv")');
  }
}

await main();

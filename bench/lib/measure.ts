/** Tiny load driver for benchmarks: fixed op count, fixed concurrency, latency percentiles. */
import { performance } from 'node:perf_hooks';

export interface Measurement {
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Run `op(i, worker)` for i in [0, total) on `concurrency` workers (each with its own id, so
 * an op can own per-worker state), recording the latency of each call. A warm-up of `warmup` calls runs first and is not recorded.
 */
export async function measure(
  op: (i: number, worker: number) => Promise<unknown>,
  total: number,
  concurrency: number,
  warmup = Math.min(1000, Math.floor(total / 10)),
): Promise<Measurement> {
  await drive(op, warmup, concurrency, undefined);
  const latencies = new Float64Array(total);
  const started = performance.now();
  await drive(op, total, concurrency, latencies);
  const elapsed = performance.now() - started;
  latencies.sort();
  return {
    ops: total,
    opsPerSec: (total / elapsed) * 1000,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

async function drive(
  op: (i: number, worker: number) => Promise<unknown>,
  total: number,
  concurrency: number,
  latencies: Float64Array | undefined,
): Promise<void> {
  let next = 0;
  const worker = async (w: number): Promise<void> => {
    while (next < total) {
      const i = next++;
      const t0 = performance.now();
      await op(i, w);
      if (latencies) latencies[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, (_, w) => worker(w)));
}

export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const at = Math.min(sorted.length - 1, Math.floor(q * sorted.length));
  return sorted[at] ?? 0;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

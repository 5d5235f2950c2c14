/**
 * Time-boxed loops for CPU-bound benchmarks: run one operation at a time for a fixed
 * wall-clock duration (after an untimed warm-up) and report the rate and latencies.
 * Where `measure` drives a fixed op count at some concurrency, these answer "how many per
 * second does one core do", which is the question for signing and handshakes.
 *
 * Each loop also records the process's CPU time (user + system, all threads), so a rate
 * per CPU-second stays meaningful when other work shares the machine: that is how
 * `openssl speed` counts by default, and it is never better than the wall-clock rate on
 * an idle core (GC threads count too).
 */
import { performance } from 'node:perf_hooks';
import { percentile } from './measure.ts';

export interface Rate {
  ops: number;
  /** Wall clock. */
  opsPerSec: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  /** Ops per second of this process's CPU time. */
  opsPerCpuSec: number;
  cpuMsPerOp: number;
  /** CPU time ÷ wall time: about 1 when the loop had a core to itself. */
  cpuShare: number;
}

/** Run the synchronous `op(i)` back to back for `durationMs` after `warmupMs`. */
export function runFor(op: (i: number) => unknown, durationMs: number, warmupMs = 300): Rate {
  let i = 0;
  const warm = performance.now() + warmupMs;
  while (performance.now() < warm) op(i++);
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  const until = started + durationMs;
  let now = started;
  while (now < until) {
    op(i++);
    const after = performance.now();
    latencies.push(after - now);
    now = after;
  }
  return summarize(latencies, now - started, process.cpuUsage(cpu));
}

/** Like {@link runFor} for an asynchronous `op(i)`, awaited one at a time. */
export async function runForAsync(
  op: (i: number) => Promise<unknown>,
  durationMs: number,
  warmupMs = 300,
): Promise<Rate> {
  let i = 0;
  const warm = performance.now() + warmupMs;
  while (performance.now() < warm) await op(i++);
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  const until = started + durationMs;
  let now = started;
  while (now < until) {
    await op(i++);
    const after = performance.now();
    latencies.push(after - now);
    now = after;
  }
  return summarize(latencies, now - started, process.cpuUsage(cpu));
}

function summarize(latencies: number[], elapsedMs: number, cpu: NodeJS.CpuUsage): Rate {
  const sorted = Float64Array.from(latencies).sort();
  const ops = Math.max(1, sorted.length);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    ops: sorted.length,
    opsPerSec: (sorted.length / elapsedMs) * 1000,
    meanMs: elapsedMs / ops,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    opsPerCpuSec: (sorted.length / cpuMs) * 1000,
    cpuMsPerOp: cpuMs / ops,
    cpuShare: cpuMs / elapsedMs,
  };
}

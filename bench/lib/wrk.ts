/**
 * Run wrk (the HTTP load generator from Debian's `wrk` package) and parse its `--latency`
 * report: requests per second, the latency percentiles it prints, errors and non-2xx/3xx
 * responses.
 */
import type { ProcessGroup } from './process-group.ts';

export interface WrkOptions {
  url: string;
  threads: number;
  connections: number;
  durationS: number;
  /** @default 30 s, so a stalled proxy shows up as timeouts rather than a hang */
  timeoutS?: number;
}

export interface WrkResult {
  requests: number;
  durationS: number;
  rps: number;
  p50Ms: number;
  p75Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** connect + read + write + timeout socket errors. */
  socketErrors: number;
  /** Responses with a status outside 2xx/3xx. */
  non2xx: number;
  /** The exact command line that ran. */
  command: string;
  raw: string;
}

export function wrkArgs(o: WrkOptions): string[] {
  return [
    `-t${o.threads}`,
    `-c${o.connections}`,
    `-d${o.durationS}s`,
    `--timeout`,
    `${o.timeoutS ?? 30}s`,
    '--latency',
    o.url,
  ];
}

export async function runWrk(group: ProcessGroup, o: WrkOptions): Promise<WrkResult> {
  const args = wrkArgs(o);
  const started = group.spawn('wrk', 'wrk', args);
  const code = await new Promise<number | null>((resolve) => {
    started.child.once('exit', (c) => resolve(c));
    started.child.once('error', () => resolve(-1));
  });
  const raw = started.output();
  if (code !== 0) throw new Error(`wrk exited with ${code}:\n${raw}`);
  return { ...parseWrk(raw), command: `wrk ${args.join(' ')}` };
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function durationMs(value: string, unit: string): number {
  const factor = UNIT_MS[unit];
  if (factor === undefined) throw new Error(`unknown wrk time unit ${unit}`);
  return Number(value) * factor;
}

/** Parse wrk's text report (with `--latency`). @throws Error naming what is missing */
export function parseWrk(raw: string): Omit<WrkResult, 'command'> {
  const percentile = (p: number): number => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(raw);
    if (!m?.[1] || !m[2]) throw new Error(`no ${p}% line in wrk's output:\n${raw}`);
    return durationMs(m[1], m[2]);
  };
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m|h),/.exec(raw);
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(raw);
  if (!total?.[1] || !total[2] || !total[3] || !rps?.[1]) {
    throw new Error(`cannot find the request totals in wrk's output:\n${raw}`);
  }
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  const socketErrors = errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(raw)?.[1] ?? 0);
  return {
    requests: Number(total[1]),
    durationS: durationMs(total[2], total[3]) / 1000,
    rps: Number(rps[1]),
    p50Ms: percentile(50),
    p75Ms: percentile(75),
    p90Ms: percentile(90),
    p99Ms: percentile(99),
    socketErrors,
    non2xx,
    raw,
  };
}

/**
 * Summarize V8 `.cpuprofile` files (from `node --cpu-prof`) as the functions with the most
 * self time, the first thing to look at when a proxy loses a benchmark.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds on the monotonic clock `process.hrtime` reads, in every process. */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A stretch of a run on the monotonic clock, in µs (`process.hrtime.bigint() / 1000n`). */
export interface ProfileWindow {
  fromUs: number;
  toUs: number;
}

/** Now on the clock profiles are stamped with, for a {@link ProfileWindow}. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export interface SelfTime {
  /** `name (file:line)`, with the file relative to the working directory. */
  frame: string;
  ms: number;
  percent: number;
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || '(anonymous)';
  if (!url) return name;
  const file = url.startsWith('file://')
    ? path.relative(process.cwd(), new URL(url).pathname)
    : url;
  return `${name} (${file}:${lineNumber + 1})`;
}

/**
 * Self time by function over every profile in `files`, largest first, idle time left out;
 * with `window`, only the samples taken in it (a benchmark's measured phase, without
 * start-up and connecting).
 */
export async function topSelfTime(
  files: string[],
  limit = 20,
  window?: ProfileWindow,
): Promise<SelfTime[]> {
  const byFrame = new Map<string, number>();
  let totalUs = 0;
  for (const file of files) {
    const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
    const names = new Map(profile.nodes.map((n) => [n.id, frameName(n)]));
    let at = profile.startTime;
    profile.samples.forEach((id, i) => {
      const us = profile.timeDeltas[i] ?? 0;
      at += us;
      if (window && (at < window.fromUs || at > window.toUs)) return;
      const frame = names.get(id) ?? '?';
      // Waiting is not cost: percentages are of the time the thread was busy.
      if (frame === '(idle)') return;
      byFrame.set(frame, (byFrame.get(frame) ?? 0) + us);
      totalUs += us;
    });
  }
  return [...byFrame]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([frame, us]) => ({ frame, ms: us / 1000, percent: totalUs ? (us / totalUs) * 100 : 0 }));
}

/** The `.cpuprofile` files in `dir`. */
export async function profilesIn(dir: string): Promise<string[]> {
  return (await readdir(dir))
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f));
}

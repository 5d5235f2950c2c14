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
  samples: number[];
  timeDeltas: number[];
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

/** Self time by function over every profile in `files`, largest first, idle time left out. */
export async function topSelfTime(files: string[], limit = 20): Promise<SelfTime[]> {
  const byFrame = new Map<string, number>();
  let totalUs = 0;
  for (const file of files) {
    const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
    const names = new Map(profile.nodes.map((n) => [n.id, frameName(n)]));
    profile.samples.forEach((id, i) => {
      const us = profile.timeDeltas[i] ?? 0;
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

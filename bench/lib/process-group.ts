/**
 * The child processes one benchmark run starts, so that every one of them is stopped at
 * the end, on an error and on Ctrl-C. Each child gets its own process group (`detached`),
 * so stopping it also stops what it forked (Causeway's `--workers`), and a terminal's
 * Ctrl-C reaches only the benchmark, which then stops its children in order.
 *
 * Also reads the CPU time of a child and its descendants from /proc, which is what the
 * proxies cost per request on a machine whose cores they share with the load generator.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export interface Started {
  name: string;
  child: ChildProcess;
  /** The last few KB of stderr and stdout, for error messages. */
  output(): string;
}

const KEEP_OUTPUT = 8192;

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    } catch {
      clockTicks = 100;
    }
    if (!Number.isFinite(clockTicks) || clockTicks <= 0) clockTicks = 100;
  }
  return clockTicks;
}

/** `/proc/<pid>/stat` → [ppid, utime + stime in ticks], or undefined once it has exited. */
function readStat(pid: number): [number, number] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  return [Number(fields[1]), Number(fields[11]) + Number(fields[12])];
}

/**
 * CPU seconds (user + system) used so far by `pid` and its live descendants. Linux only;
 * 0 elsewhere.
 */
export function treeCpuSeconds(pid: number): number {
  let pids: number[];
  try {
    pids = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return 0;
  }
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const p of pids) {
    const s = readStat(p);
    if (!s) continue;
    ticks.set(p, s[1]);
    const list = children.get(s[0]) ?? [];
    list.push(p);
    children.set(s[0], list);
  }
  let total = 0;
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.pop()!;
    total += ticks.get(p) ?? 0;
    queue.push(...(children.get(p) ?? []));
  }
  return total / ticksPerSecond();
}

export class ProcessGroup {
  readonly #started = new Set<Started>();
  readonly #cleanups: (() => Promise<void>)[] = [];
  #signalsHooked = false;

  /** Also run `fn` (e.g. remove a temp dir) when a signal stops the benchmark. */
  onSignalCleanup(fn: () => Promise<void>): void {
    this.#cleanups.push(fn);
  }

  /**
   * Stop every child on SIGINT/SIGTERM and exit with 130/143, and kill what is left if
   * the benchmark exits any other way (an uncaught error).
   */
  hookSignals(log: (line: string) => void): void {
    if (this.#signalsHooked) return;
    this.#signalsHooked = true;
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      process.once(signal, () => {
        log(`${signal}: stopping ${this.#started.size} child process(es)`);
        void this.stopAll()
          .then(() => Promise.allSettled(this.#cleanups.map((fn) => fn())))
          .finally(() => process.exit(code));
      });
    }
    process.once('exit', () => {
      for (const s of this.#started) killGroup(s.child, 'SIGKILL');
    });
  }

  spawn(name: string, command: string, args: string[], options: SpawnOptions = {}): Started {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options,
      detached: true,
    });
    let output = '';
    const keep = (d: Buffer): void => {
      output = (output + d.toString()).slice(-KEEP_OUTPUT);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    // A failed spawn (ENOENT) is reported through the exit promise of whoever waits.
    child.on('error', (err) => keep(Buffer.from(`\n${err.message}\n`)));
    const started: Started = { name, child, output: () => output };
    this.#started.add(started);
    child.once('exit', () => {
      // A primary that died would otherwise leave its workers running in its group.
      killGroup(child, 'SIGKILL');
      this.#started.delete(started);
    });
    return started;
  }

  /** SIGTERM the child's process group, then SIGKILL it if it has not exited in `graceMs`. */
  async stop(started: Started, graceMs = 5000): Promise<void> {
    const { child } = started;
    if (child.exitCode !== null || child.signalCode !== null) {
      this.#started.delete(started);
      return;
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#started].map((s) => this.stop(s)));
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone already
  }
}

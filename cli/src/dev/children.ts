/**
 * The child processes of `causeway dev`: each one's output goes to its own log file, a
 * child that exits on its own stops the whole mesh (with the tail of its log, so the
 * reason is on screen), and `stopAll()` ends them in reverse start order — SIGTERM, then
 * SIGKILL for any still alive after the grace period — so nothing is left behind.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export interface ChildSpec {
  /** Short name for messages and the log file (`zone-east`). */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

export interface RunningChild {
  spec: ChildSpec;
  process: ChildProcess;
  logFile: string;
  /** Everything it printed so far (kept for readiness checks; bounded). */
  output(): string;
}

const KEEP_OUTPUT = 256 * 1024;

export class Children {
  readonly #running: RunningChild[] = [];
  readonly #logs: WriteStream[] = [];
  /** Processes stopped on purpose by {@link stop}: their exit is not a failure. */
  readonly #stoppedOnPurpose = new WeakSet<ChildProcess>();
  #stopping = false;

  constructor(
    private readonly logDir: string,
    /** Called once when a child exits while the mesh is running. */
    private readonly onUnexpectedExit: (child: RunningChild, code: number | null) => void,
  ) {}

  get running(): readonly RunningChild[] {
    return this.#running;
  }

  start(spec: ChildSpec): RunningChild {
    const logFile = path.join(this.logDir, `${spec.name}.log`);
    const log = createWriteStream(logFile, { flags: 'a' });
    this.#logs.push(log);
    const child = spawn(spec.command, spec.args, {
      env: spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const collect = (chunk: Buffer): void => {
      log.write(chunk);
      out += chunk.toString();
      if (out.length > KEEP_OUTPUT) out = out.slice(-KEEP_OUTPUT);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const running: RunningChild = { spec, process: child, logFile, output: () => out };
    const unexpected = (): boolean => !this.#stopping && !this.#stoppedOnPurpose.has(child);
    child.once('exit', (code) => {
      if (unexpected()) this.onUnexpectedExit(running, code);
    });
    child.once('error', () => {
      if (unexpected()) this.onUnexpectedExit(running, null);
    });
    this.#running.push(running);
    return running;
  }

  /** The newest child started under `name`, running or not. */
  find(name: string): RunningChild | undefined {
    return this.#running.findLast((child) => child.spec.name === name);
  }

  /**
   * Stop one child (SIGTERM, SIGKILL after the grace period) without it counting as an
   * unexpected exit; resolves once it has exited. Used by tests that take one part of the
   * mesh down.
   */
  async stop(name: string, graceMs = 10_000): Promise<void> {
    const child = this.find(name);
    if (!child) throw new Error(`no child called ${name}`);
    this.#stoppedOnPurpose.add(child.process);
    await stopOne(child.process, graceMs);
  }

  /**
   * Start a stopped child again with the same spec (same arguments, so the same data
   * directory and ports; its log file is appended to). The old entry is replaced in place,
   * so `stopAll()` keeps the original start order.
   */
  restart(name: string): RunningChild {
    const old = this.find(name);
    if (!old) throw new Error(`no child called ${name}`);
    if (old.process.exitCode === null && old.process.signalCode === null)
      throw new Error(`${name} is still running; stop it first`);
    const index = this.#running.indexOf(old);
    const fresh = this.start(old.spec);
    this.#running.splice(this.#running.length - 1, 1);
    this.#running.splice(index, 1, fresh);
    return fresh;
  }

  /** Stop every child, newest first; resolves when all have exited. */
  async stopAll(graceMs = 10_000): Promise<void> {
    this.#stopping = true;
    for (const child of [...this.#running].reverse()) await stopOne(child.process, graceMs);
    await Promise.all(
      this.#logs.map((log) => new Promise<void>((resolve) => log.end(() => resolve()))),
    );
  }
}

async function stopOne(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** The last `lines` lines of a child's log file. */
export async function logTail(file: string, lines = 20): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

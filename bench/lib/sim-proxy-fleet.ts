/**
 * Many simulated proxies (`sim-proxy.ts`) spread over a few child processes
 * (`sim-proxy-worker.ts`), driven over IPC: connect them all, arm an expectation ("every
 * proxy's config will show weight W"), and learn when the first and the last proxy ACKed
 * such a config.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SimProxyOptions } from './sim-proxy.ts';
import type { WorkerReply, WorkerRequest } from './sim-proxy-worker.ts';

const WORKER = fileURLToPath(new URL('./sim-proxy-worker.ts', import.meta.url));

export interface Reached {
  /** Epoch ms when the first / last proxy ACKed a config with the expected weight. */
  first: number;
  last: number;
  count: number;
}

export interface FleetStats {
  cpuMs: number;
  rssKiB: number;
  configs: number;
}

export class SimProxyFleet {
  readonly #workers: ChildProcess[] = [];
  readonly #waiters = new Set<(m: WorkerReply, w: ChildProcess) => void>();

  constructor(processes: number) {
    for (let i = 0; i < processes; i++) {
      const child = fork(WORKER, [], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.on('message', (m: WorkerReply) => {
        for (const waiter of this.#waiters) waiter(m, child);
      });
      this.#workers.push(child);
    }
  }

  get pids(): number[] {
    return this.#workers.map((w) => w.pid ?? 0);
  }

  /** Connect `total` proxies, split evenly; resolves when each has ACKed its first config. */
  async connect(
    options: Omit<SimProxyOptions, 'instanceId' | 'onConfig'>,
    total: number,
    concurrencyPerProcess = 16,
  ): Promise<number> {
    const per = Math.ceil(total / this.#workers.length);
    const replies = this.#collect('connected', this.#workers.length, 300_000);
    this.#workers.forEach((w, i) => {
      const count = Math.max(0, Math.min(per, total - i * per));
      this.#send(w, {
        type: 'connect',
        options,
        count,
        first: i * per,
        concurrency: concurrencyPerProcess,
      });
    });
    const done = await replies;
    return done.reduce((n, m) => n + (m.type === 'connected' ? m.count : 0), 0);
  }

  /** Arm every worker to watch for `weight`; resolves once all are armed. */
  async expect(id: number, weight: number): Promise<void> {
    const armed = this.#collect('expecting', this.#workers.length, 10_000);
    for (const w of this.#workers) this.#send(w, { type: 'expect', id, weight });
    await armed;
  }

  /**
   * When every worker reported that all its proxies reached the weight armed under `id`;
   * undefined after `timeoutMs`.
   */
  async reached(id: number, timeoutMs: number): Promise<Reached | undefined> {
    try {
      const replies = await this.#collect('reached', this.#workers.length, timeoutMs, id);
      const r = replies.filter((m) => m.type === 'reached');
      return {
        first: Math.min(...r.map((m) => m.first)),
        last: Math.max(...r.map((m) => m.last)),
        count: r.reduce((n, m) => n + m.count, 0),
      };
    } catch {
      return undefined;
    }
  }

  /** CPU time, RSS and configs received, summed over the workers. */
  async stats(): Promise<FleetStats> {
    const replies = this.#collect('stats', this.#workers.length, 10_000);
    for (const w of this.#workers) this.#send(w, { type: 'stats' });
    const s = (await replies).filter((m) => m.type === 'stats');
    return {
      cpuMs: s.reduce((n, m) => n + m.cpuMs, 0),
      rssKiB: s.reduce((n, m) => n + m.rssKiB, 0),
      configs: s.reduce((n, m) => n + m.configs, 0),
    };
  }

  close(): void {
    for (const w of this.#workers) {
      if (w.connected) w.disconnect();
      w.kill();
    }
  }

  #send(w: ChildProcess, m: WorkerRequest): void {
    w.send(m);
  }

  /**
   * The next `count` replies of `type` (one per worker; with `id`, only those for it).
   * A `failed` reply or `timeoutMs` rejects.
   */
  #collect(
    type: WorkerReply['type'],
    count: number,
    timeoutMs: number,
    id?: number,
  ): Promise<WorkerReply[]> {
    return new Promise((resolve, reject) => {
      const got: WorkerReply[] = [];
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${count} '${type}' replies (got ${got.length})`));
      }, timeoutMs);
      const waiter = (m: WorkerReply): void => {
        if (m.type === 'failed') {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          reject(new Error(`a simulated proxy process failed: ${m.message}`));
          return;
        }
        if (m.type !== type) return;
        if (id !== undefined && 'id' in m && m.id !== id) return;
        got.push(m);
        if (got.length < count) return;
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        resolve(got);
      };
      this.#waiters.add(waiter);
    });
  }
}

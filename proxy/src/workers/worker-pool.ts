/**
 * `--workers N`: N processes serve the listeners; the primary keeps everything else.
 *
 * Node 20 has no `reusePort` (it arrived in 22.12), so the workers come from the
 * `cluster` module and share each listening socket through the primary. We use
 * `SCHED_NONE`: every worker accepts on the shared socket itself and the kernel picks
 * which one wakes, which costs the primary nothing per connection (round-robin would
 * make it accept every connection and pass it over IPC) at the price of a less even
 * spread under light load.
 *
 * The primary runs the admin API, the zone stream (or reads the bootstrap file), the
 * leaf renewal and the app health check, exactly as a single process does, but its
 * serving plane is this {@link WorkerPool}: every identity it installs and every snapshot
 * it applies is sent to each worker over IPC, and a snapshot counts as applied (ACK) only
 * when every worker applied it. A worker that crashes is replaced and brought up to date
 * with the latest identity and snapshot. Workers each run a `DataPlane` (inbound
 * and outbound), their own pools and outlier state; `/stats/prometheus` on the primary
 * sums their metrics (prom-client's aggregation), `/clusters` lists each worker's view.
 *
 * The private key crosses the IPC pipe to the workers: a pipe between processes of the
 * same user on the same host, which is where the key lives anyway. So do TLS session
 * ticket keys, made by the primary with each identity: every worker's context seals
 * tickets with the same keys, so a client resumes its session whichever worker the
 * kernel hands its next connection to (with per-worker keys it would fall back to a full
 * handshake N-1 times in N). Node's `cluster` copies one worker's keys to the others,
 * but only into the context in use when they listen, which the next identity replaces.
 */
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { InvalidArgumentError, childLogger, untilAborted } from '../../../core/index.ts';
import type { Component, Logger, ProxyConfig } from '../../../core/index.ts';
import type { AppliedConfig, ServingPlane } from '../data-plane.ts';
import type { IdentityMaterial } from '../identity/tls-identity.ts';
import { ProxyMetrics } from '../metrics.ts';
import type { ResolvedProxyOptions } from '../options.ts';
import { createProxy } from '../proxy.ts';
import type { PlaneSpec } from '../proxy.ts';
import type { FromWorker, ToWorker } from './messages.ts';

/** How long a worker may take to answer a request or to start. */
const WORKER_TIMEOUT_MS = 15_000;

/** The primary's components: the usual proxy, serving through a pool of workers. */
export async function primaryComponents(
  options: ResolvedProxyOptions,
  logger: Logger,
): Promise<Component[]> {
  const pool = new WorkerPool(options.workers, childLogger(logger, 'workers'));
  const metrics = new ProxyMetrics({ processMetrics: true });
  const proxy = await createProxy(options, logger, {
    metrics,
    createPlane: (spec) => pool.configure(spec),
    onIdentity: (material) => pool.identity(material),
    prometheus: () => pool.prometheus(metrics),
  });
  return proxy.components();
}

export class WorkerPool implements ServingPlane {
  readonly name = 'workers';
  #spec: PlaneSpec | undefined;
  #material: IdentityMaterial | undefined;
  /** Base64: IPC messages are JSON. */
  #ticketKeys = '';
  #applied: AppliedConfig | undefined;
  #port: number | undefined;
  #listenerPorts: Record<string, number> = {};
  #stopping = false;
  #nextId = 0;
  readonly #workers = new Set<Worker>();
  readonly #listening = new Set<Worker>();
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  #ready!: () => void;
  #failed!: (err: Error) => void;
  readonly #readyPromise = new Promise<void>((resolve, reject) => {
    this.#ready = resolve;
    this.#failed = reject;
  });

  constructor(
    private readonly count: number,
    private readonly logger: Logger,
  ) {}

  configure(spec: PlaneSpec): this {
    this.#spec = spec;
    return this;
  }

  get applied(): AppliedConfig | undefined {
    return this.#applied;
  }

  inboundPort(): number | undefined {
    return this.#port;
  }

  listenerPorts(): Record<string, number> {
    return this.#listenerPorts;
  }

  ready(): Promise<void> {
    return this.#readyPromise;
  }

  /** Install identity material in every worker (now, and in any worker started later). */
  identity(material: IdentityMaterial): void {
    this.#material = material;
    // Fresh keys with each identity, as a single process gets from each new context.
    this.#ticketKeys = randomBytes(48).toString('base64');
    for (const w of this.#workers) send(w, this.#identityMessage(material));
  }

  #identityMessage(material: IdentityMaterial): ToWorker {
    return { type: 'cw:identity', material, ticketKeys: this.#ticketKeys };
  }

  async apply(config: ProxyConfig, version: number): Promise<void> {
    const replies = await this.#askAll((id) => ({ type: 'cw:config', id, config, version }));
    this.#listenerPorts = (replies[0] as Record<string, number> | undefined) ?? {};
    this.#applied = { config, version, appliedAt: new Date().toISOString() };
  }

  async clusters(): Promise<unknown> {
    const workers = [...this.#workers];
    const replies = await this.#askAll((id) => ({ type: 'cw:clusters', id }), workers);
    return workers.map((w, i) => ({ worker: w.id, clusters: replies[i] }));
  }

  /** Every worker's metrics and the primary's, summed (the config version: the highest). */
  async prometheus(primary: ProxyMetrics): Promise<{ contentType: string; body: string }> {
    type MetricsJson = Awaited<ReturnType<ProxyMetrics['registry']['getMetricsAsJSON']>>;
    const workerJson = (await this.#askAll((id) => ({ type: 'cw:metrics', id }))) as MetricsJson[];
    const all = [await primary.registry.getMetricsAsJSON(), ...workerJson].map((list) =>
      list.map((m) =>
        m.name === 'causeway_proxy_config_version' ? { ...m, aggregator: 'max' as const } : m,
      ),
    );
    const registry = AggregatorRegistry.aggregate(all);
    return { contentType: registry.contentType, body: await registry.metrics() };
  }

  async start(signal: AbortSignal): Promise<void> {
    if (!this.#spec)
      throw new InvalidArgumentError('the worker pool was not configured', 'workers');
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    for (let i = 0; i < this.count; i++) this.#fork();
    const timer = setTimeout(
      () => this.#failed(new Error(`the workers did not start within ${WORKER_TIMEOUT_MS} ms`)),
      WORKER_TIMEOUT_MS,
    );
    try {
      await this.#readyPromise;
      clearTimeout(timer);
      if (this.#spec.initial) await this.apply(this.#spec.initial, 1);
    } catch (err) {
      clearTimeout(timer);
      await this.#stopAll();
      throw err;
    }
    await untilAborted(signal);
    await this.#stopAll();
  }

  #fork(): void {
    const worker = cluster.fork();
    this.#workers.add(worker);
    worker.on('message', (m: FromWorker) => this.#onMessage(worker, m));

    worker.on('exit', (code, sig) => {
      this.#workers.delete(worker);
      this.#listening.delete(worker);
      // Exit code 0 is a deliberate stop (a signal to the whole process group, as a
      // terminal's Ctrl-C sends, reaches the workers too): only crashes are replaced.
      if (this.#stopping || (code === 0 && sig === null)) return;
      this.logger.error(
        { worker: worker.id, code, signal: sig },
        'worker crashed; starting a replacement',
      );
      this.#fork();
    });
  }

  #onMessage(worker: Worker, m: FromWorker): void {
    // A worker says hello once it listens for messages (IPC drops messages sent before).
    if (m.type === 'cw:hello') {
      send(worker, { type: 'cw:init', spec: this.#spec as PlaneSpec });
      if (this.#material) send(worker, this.#identityMessage(this.#material));
      return;
    }
    if (m.type === 'cw:listening') {
      this.#port = m.port;
      this.#listening.add(worker);
      // A replacement catches up with the snapshot the others serve.
      if (this.#applied) {
        const { config, version } = this.#applied;
        void this.#ask(worker, (id) => ({ type: 'cw:config', id, config, version })).catch(
          (err: Error) =>
            this.logger.error(
              { worker: worker.id, err: err.message },
              'a replacement worker refused the snapshot',
            ),
        );
      }
      if (this.#listening.size >= this.count) this.#ready();
      return;
    }
    if (m.type === 'cw:reply') {
      const pending = this.#pending.get(m.id);
      if (!pending) return;
      this.#pending.delete(m.id);
      if (m.ok) pending.resolve(m.value);
      else pending.reject(new InvalidArgumentError(m.error));
    }
  }

  #ask(worker: Worker, build: (id: number) => ToWorker): Promise<unknown> {
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`worker ${worker.id} did not answer within ${WORKER_TIMEOUT_MS} ms`));
      }, WORKER_TIMEOUT_MS);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      send(worker, build(id));
    });
  }

  #askAll(build: (id: number) => ToWorker, workers = [...this.#workers]): Promise<unknown[]> {
    return Promise.all(workers.map((w) => this.#ask(w, build)));
  }

  async #stopAll(): Promise<void> {
    this.#stopping = true;
    const exits = [...this.#workers].map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.isDead()) return resolve();
          w.once('exit', () => resolve());
          send(w, { type: 'cw:stop' });
          // A worker that does not drain in time is killed.
          setTimeout(() => w.process.kill('SIGKILL'), WORKER_TIMEOUT_MS).unref();
        }),
    );
    await Promise.all(exits);
  }
}

function send(worker: Worker, message: ToWorker): void {
  if (worker.isConnected()) worker.send(message);
}

/**
 * The zone's health check runner: a lifecycle component that runs every monitored check
 * in the catalog (those registered through the agent API or by proxies) and writes their
 * results back. It reads `catalog/check/` once, then follows the store's watch, so checks
 * registered or removed through any API replica start and stop without a restart; a
 * watch resync re-reads and reconciles. It stops its timers and waits for in-flight
 * writes when its signal aborts.
 *
 * Intervals as short as 100 ms are honoured (Consul raises anything under 1 s to 1 s to
 * protect hosts from fork-bombing script checks; Causeway runs no scripts). TTL state lives
 * in this process: a TTL renewed through the agent API restarts the timer here.
 */
import type { Component, Logger, Store } from '../../../core/index.ts';
import {
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  isCausewayError,
} from '../../../core/index.ts';
import {
  deregister,
  sameSource,
  updateCheckStatus,
} from '../../../core/src/catalog/catalog-writer.ts';
import type { CheckUpdate } from '../../../core/src/catalog/catalog-writer.ts';
import { decodeCheck, decodeInstance } from '../../../core/src/catalog/codec.ts';
import { CHECK_PREFIX, checkKey, serviceKey } from '../../../core/src/catalog/keys.ts';
import type { HealthCheck, Source, Stored } from '../../../core/src/catalog/types.ts';
import type { Entry, KeyChange } from '../../../core/src/store/types.ts';
import { MAX_OUTPUT_BYTES, probeHttp } from './http-probe.ts';
import { MonitoredCheck } from './monitored-check.ts';
import type { CheckRuntime } from './monitored-check.ts';
import { probeTcp } from './tcp-probe.ts';

export interface HealthCheckRunnerOptions {
  /** Shortest check interval; shorter ones are raised to it. @default 100 */
  minIntervalMs?: number;
  /** Timeout of an HTTP or TCP check that names none (Consul's default). @default 10_000 */
  defaultTimeoutMs?: number;
  /**
   * How often a changed output of an unchanged status is written (Consul's
   * `check_update_interval`). @default 300_000
   */
  outputUpdateIntervalMs?: number;
  /** Wait after a failed read of the store before trying again. @default 1_000 */
  retryDelayMs?: number;
}

/** Truncate an output the way Consul does past 4 KiB. */
export function truncateOutput(output: string): string {
  const bytes = Buffer.byteLength(output);
  if (bytes <= MAX_OUTPUT_BYTES) return output;
  const kept = Buffer.from(output).subarray(0, MAX_OUTPUT_BYTES).toString('utf8');
  return `${kept} ... (captured ${MAX_OUTPUT_BYTES} of ${bytes} bytes)`;
}

export class HealthCheckRunner implements Component {
  readonly name = 'health-checks';
  readonly needsLeader = true;
  private readonly logger: Logger;
  private readonly runtime: CheckRuntime;
  private readonly retryDelayMs: number;
  private readonly running = new Map<string, MonitoredCheck>();
  private readonly loaded: Promise<void>;
  private markLoaded!: () => void;

  constructor(
    private readonly store: Store,
    logger: Logger,
    options: HealthCheckRunnerOptions = {},
  ) {
    this.logger = logger.child({ component: 'health-checks' });
    this.retryDelayMs = options.retryDelayMs ?? 1_000;
    this.loaded = new Promise((resolve) => {
      this.markLoaded = resolve;
    });
    this.runtime = {
      logger: this.logger,
      minIntervalMs: options.minIntervalMs ?? 100,
      defaultTimeoutMs: options.defaultTimeoutMs ?? 10_000,
      outputUpdateIntervalMs: options.outputUpdateIntervalMs ?? 300_000,
      probeHttp: (check, timeoutMs, signal) => probeHttp(check.definition, timeoutMs, signal),
      probeTcp: (check, timeoutMs, signal) =>
        probeTcp(check.definition.tcp ?? '', timeoutMs, signal),
      write: async (check, update) => {
        await updateCheckStatus(this.store, check.node, check.checkId, update);
      },
      reap: (check) => this.reap(check),
    };
  }

  /** Resolves once the checks in the catalog at start are running. */
  ready(): Promise<void> {
    return this.loaded;
  }

  async start(signal: AbortSignal): Promise<void> {
    try {
      while (!signal.aborted) {
        try {
          await this.follow(signal);
        } catch (err) {
          if (signal.aborted) break;
          if (isCausewayError(err) && err.code === 'CW_ERR_CLOSED') throw err;
          this.logger.warn({ err }, 'reading health checks failed; retrying');
          await delay(this.retryDelayMs, signal);
        }
      }
    } finally {
      await Promise.all([...this.running.values()].map((c) => c.stop()));
      this.running.clear();
    }
  }

  /**
   * Set a TTL check's status from the agent API (`/v1/agent/check/pass|warn|fail`) and
   * restart its TTL. Throws {@link NotFoundError} for an unknown check and
   * {@link InvalidArgumentError} for a check without a TTL, with Consul's messages.
   */
  async updateTtl(
    node: string,
    checkId: string,
    update: CheckUpdate,
    writer?: Source,
  ): Promise<void> {
    const entry = await this.store.get(checkKey(node, checkId));
    if (entry === null) {
      throw new NotFoundError(
        `Unknown check ID "${checkId}". Ensure that the check ID is passed, not the check name.`,
        'checkId',
      );
    }
    const record = decodeCheck(entry);
    if (writer !== undefined && !sameSource(record.source, writer)) {
      throw new ConflictError(
        `check "${checkId}" on node "${node}" is owned by ${record.source.kind} registrar ` +
          `"${record.source.owner}"; ${writer.kind} registrar "${writer.owner}" may not update it`,
        'checkId',
      );
    }
    if (record.type !== 'ttl' || !record.monitored) {
      throw new InvalidArgumentError(
        `CheckID "${checkId}" does not have associated TTL`,
        'checkId',
      );
    }
    const output = truncateOutput(update.output);
    const running = this.running.get(entry.key) ?? this.startCheck(entry.key, record);
    await running.heartbeat({ status: update.status, output });
  }

  /** Load every check, then follow changes until the watch ends (abort or resync). */
  private async follow(signal: AbortSignal): Promise<void> {
    const { entries, index } = await this.store.list(CHECK_PREFIX);
    await this.reconcile(entries);
    this.markLoaded();
    for await (const event of this.store.watch(CHECK_PREFIX, index, { signal })) {
      if (event.type === 'resync') {
        this.logger.info({ reason: event.reason }, 'health check watch must resync; re-reading');
        return;
      }
      for (const change of event.changes) await this.apply(change);
    }
  }

  private async reconcile(entries: Entry[]): Promise<void> {
    const seen = new Set<string>();
    for (const entry of entries) {
      seen.add(entry.key);
      await this.apply({ op: 'put', key: entry.key, entry });
    }
    for (const key of [...this.running.keys()]) {
      if (!seen.has(key)) await this.apply({ op: 'delete', key });
    }
  }

  private async apply(change: KeyChange): Promise<void> {
    const current = this.running.get(change.key);
    let record: Stored<HealthCheck> | undefined;
    try {
      record = change.op === 'put' ? decodeCheck(change.entry) : undefined;
    } catch (err) {
      // One damaged record must not stop every other check.
      this.logger.error({ key: change.key, err }, 'unreadable check record; not running it');
    }
    if (record === undefined || !record.monitored || record.type === '') {
      if (current !== undefined) {
        this.running.delete(change.key);
        await current.stop();
      }
      return;
    }
    if (current === undefined) {
      this.startCheck(change.key, record);
    } else if (current.sameDefinition(record)) {
      current.observe(record);
    } else {
      this.running.delete(change.key);
      await current.stop();
      this.startCheck(change.key, record);
    }
  }

  private startCheck(key: string, record: Stored<HealthCheck>): MonitoredCheck {
    const check = new MonitoredCheck(record, this.runtime);
    this.running.set(key, check);
    check.start();
    return check;
  }

  /** Deregister a critical check's service as its owner would, if it is still critical. */
  private async reap(check: HealthCheck): Promise<void> {
    const [checkEntry, serviceEntry] = await Promise.all([
      this.store.get(checkKey(check.node, check.checkId)),
      this.store.get(serviceKey(check.node, check.serviceId)),
    ]);
    if (checkEntry === null || serviceEntry === null) return;
    if (decodeCheck(checkEntry).status !== 'critical') return;
    const instance = decodeInstance(serviceEntry);
    await deregister(this.store, { node: check.node, serviceId: check.serviceId }, instance.source);
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

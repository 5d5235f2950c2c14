/**
 * One check the zone runs: an HTTP or TCP probe every interval, or a TTL that turns
 * critical unless renewed; plus the `DeregisterCriticalServiceAfter` clock. Results go to
 * the catalog only when they change something: a new status is written at once, a new
 * output of an unchanged status at most every `outputUpdateIntervalMs` (Consul's
 * `check_update_interval`), so a probe whose body carries a timestamp does not bump the
 * index — and wake every blocking health query — on each run.
 */
import type { Logger } from '../../../core/index.ts';
import { isNotFound } from '../../../core/index.ts';
import type { CheckUpdate } from '../../../core/src/catalog/catalog-writer.ts';
import { sameRecord } from '../../../core/src/catalog/catalog-writer.ts';
import type { HealthCheck, Stored } from '../../../core/src/catalog/types.ts';
import type { ProbeResult } from './http-probe.ts';

export interface CheckRuntime {
  logger: Logger;
  /** Shortest interval run; shorter ones are raised to it. */
  minIntervalMs: number;
  defaultTimeoutMs: number;
  outputUpdateIntervalMs: number;
  probeHttp(check: HealthCheck, timeoutMs: number, signal: AbortSignal): Promise<ProbeResult>;
  probeTcp(check: HealthCheck, timeoutMs: number, signal: AbortSignal): Promise<ProbeResult>;
  /** Write a result; resolves with the stored check, rejects with NotFound once it is gone. */
  write(check: HealthCheck, update: CheckUpdate): Promise<void>;
  /** The check has been critical for its DeregisterCriticalServiceAfter: remove its service. */
  reap(check: HealthCheck): Promise<void>;
}

/** Consul's TTL output when a TTL runs out. */
export function ttlExpiredOutput(lastOutput: string): string {
  return lastOutput === ''
    ? 'TTL expired'
    : `TTL expired (last output before timeout follows): ${lastOutput}`;
}

export class MonitoredCheck {
  private record: Stored<HealthCheck>;
  private stopped = false;
  private readonly probing = new AbortController();
  private probeTimer: NodeJS.Timeout | undefined;
  private ttlTimer: NodeJS.Timeout | undefined;
  private reapTimer: NodeJS.Timeout | undefined;
  private lastWriteAt = 0;
  /** The last TTL output set through the API, kept for the expiry message. */
  private lastTtlOutput = '';
  /** Writes in order, one at a time; `stop()` waits for the last. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    record: Stored<HealthCheck>,
    private readonly rt: CheckRuntime,
  ) {
    this.record = record;
  }

  get check(): Stored<HealthCheck> {
    return this.record;
  }

  /** Whether `next` needs the check restarted (its definition changed) or just observed. */
  sameDefinition(next: HealthCheck): boolean {
    return (
      sameRecord(next.definition, this.record.definition) &&
      next.type === this.record.type &&
      next.serviceId === this.record.serviceId
    );
  }

  start(): void {
    const def = this.record.definition;
    if (this.record.type === 'ttl') {
      this.armTtl();
    } else {
      let interval = def.intervalMs ?? 0;
      if (interval < this.rt.minIntervalMs) {
        this.rt.logger.warn(
          {
            checkId: this.record.checkId,
            intervalMs: interval,
            minIntervalMs: this.rt.minIntervalMs,
          },
          'check interval below the minimum; using the minimum',
        );
        interval = this.rt.minIntervalMs;
      }
      // A random first delay within one interval (Consul's RandomStagger), so checks
      // registered together do not probe in step.
      this.scheduleProbe(Math.random() * interval, interval);
    }
    this.observe(this.record);
  }

  /** A newer record of the same check (status written by anyone, same definition). */
  observe(record: Stored<HealthCheck>): void {
    this.record = record;
    const dcsa = record.definition.deregisterCriticalServiceAfterMs ?? 0;
    if (record.status !== 'critical' || dcsa <= 0 || record.serviceId === '') {
      clearTimeout(this.reapTimer);
      this.reapTimer = undefined;
    } else if (this.reapTimer === undefined) {
      // Counted from when this zone saw the check go critical, as a Consul agent does.
      this.reapTimer = setTimeout(() => this.reapNow(), dcsa);
    }
  }

  /** A TTL update from the API: take the status and restart the TTL. */
  async heartbeat(update: CheckUpdate): Promise<void> {
    this.lastTtlOutput = update.output;
    this.armTtl();
    await this.report(update, { throttleOutput: false });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.probing.abort();
    clearTimeout(this.probeTimer);
    clearTimeout(this.ttlTimer);
    clearTimeout(this.reapTimer);
    await this.writing;
  }

  private armTtl(): void {
    clearTimeout(this.ttlTimer);
    if (this.stopped) return;
    const ttl = this.record.definition.ttlMs ?? 0;
    this.ttlTimer = setTimeout(() => {
      this.rt.logger.warn({ checkId: this.record.checkId }, 'check missed its TTL; now critical');
      void this.report(
        { status: 'critical', output: ttlExpiredOutput(this.lastTtlOutput) },
        { throttleOutput: false },
      );
    }, ttl);
  }

  private scheduleProbe(delayMs: number, intervalMs: number): void {
    if (this.stopped) return;
    this.probeTimer = setTimeout(() => {
      void this.probeOnce().finally(() => this.scheduleProbe(intervalMs, intervalMs));
    }, delayMs);
  }

  private async probeOnce(): Promise<void> {
    const check = this.record;
    const timeout = check.definition.timeoutMs || this.rt.defaultTimeoutMs;
    const result =
      check.type === 'http'
        ? await this.rt.probeHttp(check, timeout, this.probing.signal)
        : await this.rt.probeTcp(check, timeout, this.probing.signal);
    if (!this.stopped) await this.report(result, { throttleOutput: true });
  }

  private report(update: CheckUpdate, options: { throttleOutput: boolean }): Promise<void> {
    const next = this.writing.then(async () => {
      if (this.stopped) return;
      const current = this.record;
      if (current.status === update.status && current.output === update.output) return;
      if (
        options.throttleOutput &&
        current.status === update.status &&
        Date.now() - this.lastWriteAt < this.rt.outputUpdateIntervalMs
      ) {
        return;
      }
      try {
        await this.rt.write(current, update);
        this.lastWriteAt = Date.now();
        // Seen at once rather than when the store's watch delivers it, so the next result
        // compares against what was written.
        this.observe({ ...current, ...update });
      } catch (err) {
        // Gone: the watch will stop this check. Anything else (the store unreachable) is
        // retried by the next result.
        if (!isNotFound(err)) {
          this.rt.logger.warn({ checkId: current.checkId, err }, 'writing a check result failed');
        }
      }
    });
    this.writing = next;
    return next;
  }

  private reapNow(): void {
    const check = this.record;
    this.rt.logger.info(
      { checkId: check.checkId, serviceId: check.serviceId },
      'check critical for longer than DeregisterCriticalServiceAfter; deregistering its service',
    );
    this.rt.reap(check).catch((err: unknown) => {
      this.rt.logger.warn(
        { checkId: check.checkId, err },
        'deregistering a critical service failed',
      );
      // Try again after another full period rather than give up.
      this.reapTimer = undefined;
      if (!this.stopped) this.observe(this.record);
    });
  }
}

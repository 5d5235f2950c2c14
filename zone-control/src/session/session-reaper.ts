/**
 * The session reaper: invalidates TTL sessions that were not renewed in time, and finishes
 * invalidations a crash interrupted.
 *
 * Consul keeps one timer per TTL session on the leader and invalidates the session
 * `TTL × 2` after its last renewal (`SessionTTLMultiplier`), and a new leader restarts
 * every timer at the full `TTL × 2`. Causeway stores each session's deadline
 * (`ExpiresAt`) instead, so that a renewal on any replica counts; the reaper keeps those
 * deadlines in memory from a listing plus a watch on `session/`, sleeps until the
 * earliest, and — like a new Consul leader — gives the sessions it finds at start at least
 * a full `TTL × 2` from then, so a zone that was down does not expire every session the
 * moment it comes back.
 */
import type { Component, Entry, Logger, Store } from '../../../core/index.ts';
import { invalidateSession } from './invalidate.ts';
import type { InvalidationReason } from './invalidate.ts';
import { lockDelaysFor } from './lock-delay.ts';
import type { LockDelays } from './lock-delay.ts';
import { SESSION_PREFIX, decodeSession, expiryFrom } from './session-record.ts';
import type { SessionRecord } from './session-record.ts';
import { readStoredSession } from './session-store.ts';
import { sleep } from '../../../core/index.ts';

/** How long an invalidation another caller started may take before the reaper finishes it. */
const ORPHAN_AFTER_MS = 30_000;

export interface SessionReaperOptions {
  /** The clock, in ms since the epoch. @default Date.now */
  now?: () => number;
  /** Pause after a store error before trying again. @default 1000 */
  retryMs?: number;
}

export class SessionReaper implements Component {
  readonly name = 'session-reaper';
  /** With several replicas on one store, one reaper is enough. */
  readonly needsLeader = true;
  private readonly now: () => number;
  private readonly retryMs: number;
  private readonly logger: Logger;
  private readonly delays: LockDelays;
  /** Session ID → deadline (ms since the epoch); 0 means "invalidate now" (a resumed crash). */
  private readonly deadlines = new Map<string, number>();
  private wake: (() => void) | undefined;
  private reaping: Promise<unknown> = Promise.resolve();
  private readonly loaded: Promise<void>;
  private markLoaded!: () => void;

  constructor(
    private readonly store: Store,
    logger: Logger,
    options: SessionReaperOptions = {},
  ) {
    this.logger = logger.child({ component: 'session-reaper' });
    this.now = options.now ?? Date.now;
    this.retryMs = options.retryMs ?? 1000;
    this.delays = lockDelaysFor(store);
    this.loaded = new Promise((resolve) => (this.markLoaded = resolve));
  }

  /** Resolves once the sessions' deadlines have been read (or a first attempt failed, or it stopped). */
  ready(): Promise<void> {
    return this.loaded;
  }

  async start(signal: AbortSignal): Promise<void> {
    let first = true;
    while (!signal.aborted) {
      try {
        const index = await this.load(first);
        first = false;
        this.markLoaded();
        await this.follow(index, signal);
      } catch (err) {
        if (signal.aborted) break;
        // The store being away must not stop the zone: log, wait, list again.
        this.logger.warn({ err }, 'session reaper: store error; retrying');
        // Do not hold the zone's start hostage to a store hiccup; the retry catches up.
        this.markLoaded();
        await sleep(this.retryMs, signal);
      }
    }
    // A zone stopped before the first listing must not hang whoever waits for readiness.
    this.markLoaded();
  }

  /**
   * Invalidate every known session whose deadline is at or before `now`. Returns the IDs
   * this pass invalidated (the reaper's own loop may have taken some first). The reaper
   * calls this itself; tests call it after moving the clock.
   */
  reapExpired(): Promise<string[]> {
    // One pass at a time: the loop and a caller must not invalidate the same session twice.
    const pass = this.reaping.then(() => this.reapOnce());
    this.reaping = pass.catch(() => undefined);
    return pass;
  }

  private async reapOnce(): Promise<string[]> {
    const now = this.now();
    const due = [...this.deadlines].filter(([, t]) => t <= now);
    const reaped: string[] = [];
    for (const [id, deadline] of due) {
      // A renewal seen by the watch since the list was made moved the deadline: not due.
      if (this.deadlines.get(id) !== deadline) continue;
      this.deadlines.delete(id);
      const reason: InvalidationReason = deadline === 0 ? 'resumed' : 'expired';
      const stillExpired = (r: SessionRecord): boolean => (r.ExpiresAt ?? Infinity) <= now;
      const freed = await invalidateSession(this.store, id, this.delays, this.now, stillExpired);
      if (freed === null) {
        // Renewed after all (and the watch may not have told us yet): track what is stored.
        const stored = await readStoredSession(this.store, id);
        if (stored && !this.deadlines.has(id)) this.track(id, stored.entry);
        continue;
      }
      reaped.push(id);
      this.logger.info({ session: id, reason, keys: freed.length }, 'session invalidated');
    }
    return reaped;
  }

  /** Read every session's deadline; returns the index to watch from. */
  private async load(first: boolean): Promise<number> {
    const { entries, index } = await this.store.list(SESSION_PREFIX);
    const startedAt = this.now();
    this.deadlines.clear();
    for (const entry of entries) {
      const record = this.decode(entry);
      if (!record) continue;
      if (record.Invalidating === true) {
        this.deadlines.set(record.ID, 0);
        continue;
      }
      if (record.ExpiresAt === undefined) continue;
      const grace = first ? (expiryFrom(record, startedAt) ?? 0) : 0;
      this.deadlines.set(record.ID, Math.max(record.ExpiresAt, grace));
    }
    return index;
  }

  /** Reap on time and track changes until the watch must resync (then return) or we stop. */
  private async follow(fromIndex: number, signal: AbortSignal): Promise<void> {
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    signal.addEventListener('abort', stop, { once: true });
    const events = this.store.watch(SESSION_PREFIX, fromIndex, { signal: ac.signal });
    const pump = (async () => {
      for await (const event of events) {
        if (event.type === 'resync') return;
        for (const change of event.changes) {
          const id = change.key.slice(SESSION_PREFIX.length);
          if (change.op === 'delete') this.deadlines.delete(id);
          else this.track(id, change.entry);
        }
        this.wake?.();
      }
    })();
    let pumpDone = false;
    const ended = pump.finally(() => {
      pumpDone = true;
      this.wake?.();
    });
    try {
      while (!signal.aborted && !pumpDone) {
        await this.reapExpired();
        await this.sleepUntilDue(signal);
      }
      await ended;
    } finally {
      signal.removeEventListener('abort', stop);
      ac.abort();
      await ended.catch(() => undefined);
    }
  }

  private track(id: string, entry: Entry): void {
    const record = this.decode(entry);
    if (!record) this.deadlines.delete(id);
    // Whoever marked it is finishing it; if it is still there after a while, they died.
    else if (record.Invalidating === true) this.deadlines.set(id, this.now() + ORPHAN_AFTER_MS);
    else if (record.ExpiresAt === undefined) this.deadlines.delete(id);
    else this.deadlines.set(id, record.ExpiresAt);
  }

  /** A record that is not a session is logged and left alone rather than stopping the reaper. */
  private decode(entry: Entry): SessionRecord | undefined {
    try {
      return decodeSession(entry);
    } catch (err) {
      this.logger.warn({ err, key: entry.key }, 'session reaper: skipping a damaged record');
      return undefined;
    }
  }

  private async sleepUntilDue(signal: AbortSignal): Promise<void> {
    let next = Infinity;
    for (const t of this.deadlines.values()) next = Math.min(next, t);
    // Timers cap near 24.8 days; a minute is plenty between checks of a far deadline.
    const ms = Math.min(Math.max(next - this.now(), 0), 60_000);
    if (ms === 0) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }
}

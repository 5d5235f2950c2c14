/**
 * Consul's lock-delay: after a session is invalidated, the keys it held cannot be locked
 * again for the session's `LockDelay` (capped at 60 s), so a holder that lost its session
 * has time to notice before someone else takes over.
 *
 * Like Consul, which keeps these timers in the leader's memory only (state store
 * `lockDelay`, enforced in `kvsPreApply`), they live in this process and are not stored:
 * a restart forgets them. One table per store, shared by the KV, txn and session code of
 * one zone.
 */
import type { Store } from '../../../core/index.ts';

/** Consul's `structs.MaxLockDelay`: a longer delay is cut to this. */
export const MAX_LOCK_DELAY_MS = 60_000;

/** Expired entries are swept once the table passes this many keys. */
const SWEEP_AT = 10_000;

export class LockDelays {
  private readonly until = new Map<string, number>();

  /** Refuse locks on `key` (a Consul key) for `delayMs` from `now`. */
  set(key: string, now: number, delayMs: number): void {
    if (!(delayMs > 0)) return;
    const expires = now + Math.min(delayMs, MAX_LOCK_DELAY_MS);
    if ((this.until.get(key) ?? 0) < expires) this.until.set(key, expires);
    if (this.until.size > SWEEP_AT) this.sweep(now);
  }

  /** The time (ms since the epoch) until which `key` may not be locked, if it is later than `now`. */
  blockedUntil(key: string, now: number): number | undefined {
    const t = this.until.get(key);
    if (t === undefined) return undefined;
    if (t <= now) {
      this.until.delete(key);
      return undefined;
    }
    return t;
  }

  private sweep(now: number): void {
    for (const [key, t] of this.until) if (t <= now) this.until.delete(key);
  }
}

const tables = new WeakMap<Store, LockDelays>();

/** The lock-delay table of the zone that owns `store`. */
export function lockDelaysFor(store: Store): LockDelays {
  let table = tables.get(store);
  if (!table) {
    table = new LockDelays();
    tables.set(store, table);
  }
  return table;
}

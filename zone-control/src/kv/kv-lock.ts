/**
 * `PUT /v1/kv/<key>?acquire=<session>` and `?release=<session>`: Consul's KV locks
 * (`kvsLockTxn`, `kvsUnlockTxn`).
 *
 * Acquire succeeds when the key is free or already held by the session; a new holder
 * increments `LockIndex`, a re-acquire keeps it; either way the body and flags are written.
 * The decision is read first and then written in one transaction guarded on what was read
 * — the session record's index (so a session being invalidated cannot take a lock) and the
 * key's index — and retried when a concurrent write wins the race.
 */
import { ConflictError, InvalidArgumentError } from '../../../core/index.ts';
import type { Store } from '../../../core/index.ts';
import type { LockDelays } from '../session/lock-delay.ts';
import { isSessionId, sessionKey } from '../session/session-record.ts';
import { MAX_CAS_ATTEMPTS, readSession } from '../session/session-store.ts';
import { storeKey } from './kv-entry.ts';

export interface LockWrite {
  key: string;
  session: string;
  value: Buffer;
  flags?: number | undefined;
}

/** Consul's answer to a lock op naming a session that does not exist. */
export function invalidSession(session: string): InvalidArgumentError {
  return new InvalidArgumentError(`invalid session ${JSON.stringify(session)}`, 'session');
}

function requireSession(session: string): void {
  if (session === '') throw new InvalidArgumentError('missing session', 'session');
  if (!isSessionId(session)) throw invalidSession(session);
}

/** Try to take the lock on `w.key` for `w.session`; false when held by another or in lock-delay. */
export async function acquireLock(
  store: Store,
  delays: LockDelays,
  w: LockWrite,
  now: number,
): Promise<boolean> {
  requireSession(w.session);
  // Consul checks lock-delay before anything else and answers a plain `false`.
  if (delays.blockedUntil(w.key, now) !== undefined) return false;
  const key = storeKey(w.key);
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const session = await readSession(store, w.session);
    if (!session) throw invalidSession(w.session);
    const current = await store.get(key);
    if (current?.session !== undefined && current.session !== w.session) return false;
    const lockIndex =
      current?.session === w.session ? current.lockIndex : (current?.lockIndex ?? 0) + 1;
    const result = await store.txn([
      { op: 'check-index', key: sessionKey(w.session), index: session.entry.modifyIndex },
      {
        op: 'cas',
        key,
        value: w.value,
        index: current?.modifyIndex ?? 0,
        flags: w.flags ?? 0,
        session: w.session,
        lockIndex,
      },
    ]);
    if (result.ok) return true;
  }
  throw new ConflictError(`lock on ${JSON.stringify(w.key)} is too contended; try again`, 'key');
}

/** Release the lock on `w.key` if `w.session` holds it; false otherwise. */
export async function releaseLock(store: Store, w: LockWrite): Promise<boolean> {
  // No session lookup: Consul only compares the holder, so an unknown session is a `false`.
  if (w.session === '') throw new InvalidArgumentError('missing session', 'session');
  const key = storeKey(w.key);
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const current = await store.get(key);
    if (!current || current.session !== w.session) return false;
    const put = await store.put(key, w.value, {
      cas: current.modifyIndex,
      flags: w.flags ?? 0,
      session: null,
    });
    if (put.ok) return true;
  }
  throw new ConflictError(`lock on ${JSON.stringify(w.key)} is too contended; try again`, 'key');
}

/**
 * Invalidating a session (destroy, or TTL expiry): every key it holds is released (lock
 * cleared, value kept) or deleted, per its `Behavior`, the session record goes away, and
 * the freed keys get the session's lock-delay — Consul's `deleteSessionTxn`.
 *
 * Consul does all of that in one Raft entry. Our transactions hold at most 64 operations,
 * so a session holding many keys needs several; to keep that safe the record is first
 * marked `Invalidating` (after which no lock can be acquired with it: acquisitions guard
 * on the record), then its keys are released in check-and-set batches, then the record is
 * deleted. A crash in between leaves the mark, and the reaper finishes the job. A session
 * holding up to 63 keys is released and deleted in the one transaction after the mark.
 */
import { MAX_TXN_OPS } from '../../../core/index.ts';
import type { Entry, Store, TxnOp } from '../../../core/index.ts';
import { KV_PREFIX, consulKey } from '../kv/kv-entry.ts';
import type { LockDelays } from './lock-delay.ts';
import { encodeSession, sessionKey } from './session-record.ts';
import type { SessionRecord, StoredSession } from './session-record.ts';
import { MAX_CAS_ATTEMPTS, readStoredSession } from './session-store.ts';

/** Why a session was invalidated, for logs. */
export type InvalidationReason = 'destroyed' | 'expired' | 'resumed';

async function markInvalidating(store: Store, s: StoredSession): Promise<StoredSession | null> {
  if (s.record.Invalidating === true) return s;
  const record: SessionRecord = { ...s.record, Invalidating: true };
  const put = await store.put(sessionKey(s.record.ID), encodeSession(record), {
    cas: s.entry.modifyIndex,
  });
  return put.ok ? { record, entry: put.entry } : null;
}

/** The op that frees one held key without losing a write made since it was read. */
function freeOp(e: Entry, behavior: SessionRecord['Behavior']): TxnOp {
  return behavior === 'delete'
    ? { op: 'delete-cas', key: e.key, index: e.modifyIndex }
    : {
        op: 'cas',
        key: e.key,
        value: e.value,
        flags: e.flags,
        index: e.modifyIndex,
        session: null,
      };
}

async function heldKeys(store: Store, id: string): Promise<Entry[]> {
  const { entries } = await store.list(KV_PREFIX);
  return entries.filter((e) => e.session === id);
}

/**
 * Invalidate session `id`. Returns the Consul keys freed, or null when the session does
 * not exist or `onlyIf` refuses it. `onlyIf` sees the record the invalidation mark is
 * check-and-set against, so the decision holds atomically (a renewal racing an expiry
 * either lands first and is seen, or fails its own check-and-set).
 */
export async function invalidateSession(
  store: Store,
  id: string,
  delays: LockDelays,
  now: () => number,
  onlyIf: (record: SessionRecord) => boolean = () => true,
): Promise<string[] | null> {
  const freed: string[] = [];
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS * 4; attempt++) {
    const current = await readStoredSession(store, id);
    if (!current) return attempt === 0 ? null : freed;
    if (current.record.Invalidating !== true && !onlyIf(current.record)) return null;
    const marked = await markInvalidating(store, current);
    if (!marked) continue;
    const { record, entry } = marked;
    const held = await heldKeys(store, id);
    const last = held.length < MAX_TXN_OPS;
    const batch = held.slice(0, last ? held.length : MAX_TXN_OPS);
    const ops = batch.map((e) => freeOp(e, record.Behavior));
    if (last) ops.push({ op: 'delete-cas', key: entry.key, index: entry.modifyIndex });
    const result = await store.txn(ops);
    // A lost race (a key written since it was listed) just means: list again.
    if (!result.ok) continue;
    const at = now();
    for (const e of batch) {
      const key = consulKey(e.key);
      freed.push(key);
      delays.set(key, at, record.LockDelay / 1e6);
    }
    if (last) return freed;
  }
  throw new Error(`could not invalidate session ${id}: it kept changing`);
}

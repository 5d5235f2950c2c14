/**
 * Sessions in the store: create, read, list and renew `session/<id>` records with
 * check-and-set, so concurrent renewals, lock acquisitions and invalidations never
 * overwrite each other.
 */
import { randomUUID } from 'node:crypto';
import { ConflictError } from '../../../core/index.ts';
import type { Store } from '../../../core/index.ts';
import type { SessionSpec } from './session-body.ts';
import {
  SESSION_PREFIX,
  decodeSession,
  encodeSession,
  expiryFrom,
  sessionKey,
} from './session-record.ts';
import type { SessionRecord, StoredSession } from './session-record.ts';

/** How often a read-modify-write retries after losing a check-and-set race. */
export const MAX_CAS_ATTEMPTS = 20;

/** Store a new session under a fresh UUID; its TTL clock starts at `now`. */
export async function createSession(
  store: Store,
  spec: SessionSpec,
  now: number,
): Promise<StoredSession> {
  for (;;) {
    const record: SessionRecord = { ID: randomUUID(), ...spec };
    const expires = expiryFrom(record, now);
    if (expires !== undefined) record.ExpiresAt = expires;
    // cas 0: only if absent, so a (vanishingly unlikely) UUID clash picks another ID.
    const put = await store.put(sessionKey(record.ID), encodeSession(record), { cas: 0 });
    if (put.ok) return { record, entry: put.entry };
  }
}

/** The stored session, including one being invalidated. */
export async function readStoredSession(store: Store, id: string): Promise<StoredSession | null> {
  const entry = await store.get(sessionKey(id));
  return entry ? { record: decodeSession(entry), entry } : null;
}

/** A live session: stored and not being invalidated. */
export async function readSession(store: Store, id: string): Promise<StoredSession | null> {
  const s = await readStoredSession(store, id);
  return s && s.record.Invalidating !== true ? s : null;
}

/** Every live session in ID order, and the store index the listing is consistent with. */
export async function listSessions(
  store: Store,
): Promise<{ sessions: StoredSession[]; index: number }> {
  const { entries, index } = await store.list(SESSION_PREFIX);
  const sessions = entries
    .map((entry) => ({ record: decodeSession(entry), entry }))
    .filter((s) => s.record.Invalidating !== true);
  return { sessions, index };
}

/**
 * Restart a live session's TTL clock at `now`; null when it does not exist. A session
 * without a TTL is returned unchanged (Consul's renew is then a no-op).
 */
export async function renewSession(
  store: Store,
  id: string,
  now: number,
): Promise<StoredSession | null> {
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const current = await readSession(store, id);
    if (!current) return null;
    const expires = expiryFrom(current.record, now);
    if (expires === undefined) return current;
    const record = { ...current.record, ExpiresAt: expires };
    const put = await store.put(sessionKey(id), encodeSession(record), {
      cas: current.entry.modifyIndex,
    });
    if (put.ok) return { record, entry: put.entry };
  }
  throw new ConflictError(`session ${id} changed too often to renew; try again`, 'session');
}

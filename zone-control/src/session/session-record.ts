/**
 * A session as stored at `session/<id>` (JSON) and as Consul answers it
 * (`structs.Session`: ID, Name, Node, LockDelay in ns, Behavior, TTL, NodeChecks,
 * ServiceChecks, CreateIndex, ModifyIndex).
 *
 * Two fields are Causeway's own and never leave the API: `ExpiresAt`, the wall-clock time
 * the session is invalidated unless renewed (stored, so every zone replica and a restarted
 * zone agree on it), and `Invalidating`, set while the session's locks are being released
 * so a crash half-way is finished by the reaper.
 */
import { CorruptDataError } from '../../../core/index.ts';
import type { Entry } from '../../../core/index.ts';
import { parseGoDurationNs } from '../http/go-duration.ts';

export const SESSION_PREFIX = 'session/';

/** Consul invalidates a TTL session after twice its TTL without a renewal (`SessionTTLMultiplier`). */
export const SESSION_TTL_MULTIPLIER = 2;

export type SessionBehavior = 'release' | 'delete';

export interface ServiceCheckRef {
  ID: string;
  Namespace?: string;
}

export interface SessionRecord {
  ID: string;
  Name: string;
  Node: string;
  /** Nanoseconds, as Consul's `time.Duration`. */
  LockDelay: number;
  Behavior: SessionBehavior;
  /** As given (`"30s"`), or `""` for a session without a TTL. */
  TTL: string;
  NodeChecks: string[] | null;
  ServiceChecks: ServiceCheckRef[] | null;
  /** Consul's deprecated `Checks`, echoed only when a client set something else than the default. */
  Checks?: string[];
  /** Milliseconds since the epoch; absent without a TTL. */
  ExpiresAt?: number;
  Invalidating?: true;
}

/** A stored session with the store entry it came from (for indexes and check-and-set). */
export interface StoredSession {
  record: SessionRecord;
  entry: Entry;
}

export function sessionKey(id: string): string {
  return SESSION_PREFIX + id;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Session IDs are UUIDs, as Consul issues them. */
export function isSessionId(id: string): boolean {
  return uuid.test(id);
}

export function encodeSession(record: SessionRecord): Buffer {
  return Buffer.from(JSON.stringify(record), 'utf8');
}

export function decodeSession(entry: Entry): SessionRecord {
  try {
    const record = JSON.parse(entry.value.toString('utf8')) as SessionRecord;
    if (typeof record.ID !== 'string' || typeof record.Node !== 'string') throw new Error('no ID');
    return record;
  } catch (err) {
    throw new CorruptDataError(`session record ${entry.key} is not a session`, err);
  }
}

/** The TTL in milliseconds; 0 for a session without one. */
export function ttlMs(record: SessionRecord): number {
  if (record.TTL === '') return 0;
  return Math.max(0, (parseGoDurationNs(record.TTL) ?? 0) / 1e6);
}

/** When a session renewed (or created) at `now` expires; undefined without a TTL. */
export function expiryFrom(record: SessionRecord, now: number): number | undefined {
  const ttl = ttlMs(record);
  return ttl > 0 ? now + ttl * SESSION_TTL_MULTIPLIER : undefined;
}

/**
 * Consul's JSON for a session, in Consul's field order. Sessions never change after
 * creation in Consul, so `ModifyIndex` is the creation index (renewals rewrite our record
 * to move `ExpiresAt`, which Consul keeps in memory instead).
 */
export function toConsulSession(s: StoredSession): Record<string, unknown> {
  const r = s.record;
  const out: Record<string, unknown> = {
    ID: r.ID,
    Name: r.Name,
    Node: r.Node,
    LockDelay: r.LockDelay,
    Behavior: r.Behavior,
    TTL: r.TTL,
    NodeChecks: r.NodeChecks,
    ServiceChecks: r.ServiceChecks,
  };
  if (r.Checks !== undefined) out.Checks = r.Checks;
  out.CreateIndex = s.entry.createIndex;
  out.ModifyIndex = s.entry.createIndex;
  return out;
}

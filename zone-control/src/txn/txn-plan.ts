/**
 * Turning Consul transaction ops into one store transaction.
 *
 * Most verbs map onto a store op of the same name. Two need more:
 *
 * - `check-index` and `check-session` answer the entry they checked, which the store's
 *   checks do not return, so each is followed by a `get` of the same key (two store ops).
 * - `lock` and `unlock` decide from the key's holder and lock index at that point of the
 *   transaction and whether the session exists. Their keys and sessions are read before
 *   the transaction, simulated through the ops that precede them, and the transaction
 *   starts with guards (`check-index` / `check-not-exists`) pinning what was read. A lock
 *   that may proceed becomes a `set` with the session and lock index decided; one that may
 *   not becomes a check that fails inside the transaction for the same reason, so the
 *   store still reports every failing op at once, as Consul does. If a guard fails, the
 *   reads were stale: read again and replan.
 */
import type { Entry, TxnOp } from '../../../core/index.ts';
import { storeKey } from '../kv/kv-entry.ts';
import type { StoredSession } from '../session/session-record.ts';
import { sessionKey } from '../session/session-record.ts';
import type { KvOp } from './txn-parse.ts';

/** What the ops' lock decisions were based on. */
export interface PreRead {
  /** Consul key → entry (null: absent), for every key a lock or unlock names. */
  keys: Map<string, Entry | null>;
  /** Session ID → stored session (null: absent), for every session a lock names. */
  sessions: Map<string, StoredSession | null>;
}

/** Where the answer to one Consul op comes from. */
export interface OpSlot {
  /** Index of the store op whose result (or failure) answers this op; -1 for none. */
  storeOp: number;
  /** For a lock or unlock planned to fail: Consul's error text. */
  failure?: string;
}

export interface TxnPlan {
  ops: TxnOp[];
  /** The leading `guards` store ops pin the pre-read; their failure means "replan". */
  guards: number;
  /** Store op index → Consul op index (-1 for guards). */
  owner: number[];
  /** Per Consul op. */
  slots: OpSlot[];
}

/** The simulated state of a key a lock or unlock depends on. */
interface Sim {
  session: string | undefined;
  lockIndex: number;
  /** A number while unchanged since the pre-read; `txn` once written in this transaction. */
  modifyIndex: number | 'txn';
}

function simOf(e: Entry | null): Sim | null {
  return e ? { session: e.session, lockIndex: e.lockIndex, modifyIndex: e.modifyIndex } : null;
}

/** The Consul keys and sessions whose current state the plan needs. */
export function preReadNeeds(ops: KvOp[]): { keys: string[]; sessions: string[] } {
  const keys = new Set<string>();
  const sessions = new Set<string>();
  for (const op of ops) {
    if (op.verb === 'lock' || op.verb === 'unlock') keys.add(op.key);
    if (op.verb === 'lock') sessions.add(op.session);
  }
  return { keys: [...keys], sessions: [...sessions] };
}

export function planTxn(ops: KvOp[], pre: PreRead): TxnPlan {
  const storeOps: TxnOp[] = [];
  const owner: number[] = [];
  const emit = (op: TxnOp, by: number): number => {
    storeOps.push(op);
    owner.push(by);
    return storeOps.length - 1;
  };

  for (const [key, e] of pre.keys) {
    const k = storeKey(key);
    emit(
      e ? { op: 'check-index', key: k, index: e.modifyIndex } : { op: 'check-not-exists', key: k },
      -1,
    );
  }
  for (const [id, s] of pre.sessions) {
    const k = sessionKey(id);
    emit(
      s
        ? { op: 'check-index', key: k, index: s.entry.modifyIndex }
        : { op: 'check-not-exists', key: k },
      -1,
    );
  }
  const guards = storeOps.length;

  const sim = new Map<string, Sim | null>();
  for (const [key, e] of pre.keys) sim.set(key, simOf(e));
  const tracked = (key: string): boolean => sim.has(key);
  const written = (prev: Sim | null | undefined): Sim => ({
    session: prev?.session,
    lockIndex: prev?.lockIndex ?? 0,
    modifyIndex: 'txn',
  });

  const slots = ops.map((op, i): OpSlot => {
    const k = storeKey(op.key);
    const prev = sim.get(op.key);
    switch (op.verb) {
      case 'set':
        if (tracked(op.key)) sim.set(op.key, written(prev));
        return { storeOp: emit({ op: 'set', key: k, value: op.value, flags: op.flags }, i) };
      case 'cas': {
        const holds = op.index === 0 ? !prev : !!prev && prev.modifyIndex === op.index;
        if (tracked(op.key) && holds) sim.set(op.key, written(prev));
        const cas: TxnOp = { op: 'cas', key: k, value: op.value, flags: op.flags, index: op.index };
        return { storeOp: emit(cas, i) };
      }
      case 'delete':
        if (tracked(op.key)) sim.set(op.key, null);
        return { storeOp: emit({ op: 'delete', key: k }, i) };
      case 'delete-cas':
        if (tracked(op.key) && prev && prev.modifyIndex === op.index) sim.set(op.key, null);
        return { storeOp: emit({ op: 'delete-cas', key: k, index: op.index }, i) };
      case 'delete-tree':
        for (const key of sim.keys()) if (key.startsWith(op.key)) sim.set(key, null);
        return { storeOp: emit({ op: 'delete-tree', key: k }, i) };
      case 'get':
        return { storeOp: emit({ op: 'get', key: k }, i) };
      case 'get-tree':
      case 'get-or-empty':
        return { storeOp: emit({ op: 'get-tree', key: k }, i) };
      case 'check-not-exists':
        return { storeOp: emit({ op: 'check-not-exists', key: k }, i) };
      case 'check-index':
        emit({ op: 'check-index', key: k, index: op.index }, i);
        return { storeOp: emit({ op: 'get', key: k }, i) };
      case 'check-session':
        emit({ op: 'check-session', key: k, session: op.session === '' ? null : op.session }, i);
        return { storeOp: emit({ op: 'get', key: k }, i) };
      case 'lock':
        return planLock(op, i, prev ?? null);
      case 'unlock':
        return planUnlock(op, i, prev ?? null);
    }
  });

  function planLock(op: KvOp, i: number, prev: Sim | null): OpSlot {
    const k = storeKey(op.key);
    const session = pre.sessions.get(op.session);
    if (!session || session.record.Invalidating === true) {
      // Fails inside the txn because the guard pinned the session as absent / marked.
      const fail: TxnOp = session
        ? { op: 'check-not-exists', key: sessionKey(op.session) }
        : { op: 'get', key: sessionKey(op.session) };
      return { storeOp: emit(fail, i), failure: `invalid session ${JSON.stringify(op.session)}` };
    }
    if (prev?.session !== undefined && prev.session !== op.session) {
      return {
        storeOp: emit({ op: 'check-session', key: k, session: op.session }, i),
        failure: `failed to lock key ${JSON.stringify(op.key)}, lock is already held`,
      };
    }
    const lockIndex = prev?.session === op.session ? prev.lockIndex : (prev?.lockIndex ?? 0) + 1;
    sim.set(op.key, { session: op.session, lockIndex, modifyIndex: 'txn' });
    const set: TxnOp = {
      op: 'set',
      key: k,
      value: op.value,
      flags: op.flags,
      session: op.session,
      lockIndex,
    };
    return { storeOp: emit(set, i) };
  }

  function planUnlock(op: KvOp, i: number, prev: Sim | null): OpSlot {
    const k = storeKey(op.key);
    if (!prev || prev.session !== op.session) {
      return {
        storeOp: emit({ op: 'check-session', key: k, session: op.session }, i),
        failure:
          `failed to unlock key ${JSON.stringify(op.key)}, ` +
          "lock isn't held, or is held by another session",
      };
    }
    sim.set(op.key, { session: undefined, lockIndex: prev.lockIndex, modifyIndex: 'txn' });
    return {
      storeOp: emit({ op: 'set', key: k, value: op.value, flags: op.flags, session: null }, i),
    };
  }

  return { ops: storeOps, guards, owner, slots };
}

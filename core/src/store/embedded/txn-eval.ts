/**
 * Transaction evaluation for the embedded store: run the ops in order against a working
 * copy (an overlay on the live table, so nothing is copied up front), collect Consul-style
 * errors, and turn the overlay into one batch of changes if every op held.
 */
import type { Entry, KeyChange, TxnOp, TxnOpResult } from '../types.ts';
import { compareKeys } from './key-index.ts';
import type { KeyIndex } from './key-index.ts';

export type TxnEvaluation =
  | { ok: false; errors: { opIndex: number; what: string }[] }
  | {
      ok: true;
      /** Results hold the overlay's entry objects: copy them before handing them out. */
      results: TxnOpResult[];
      /**
       * The final state of every key whose state the txn changed, in the order first
       * written: one change per key. Empty when nothing changed on net (a delete of nothing,
       * or a set then a delete of a missing key), in which case nothing is committed.
       */
      changes: KeyChange[];
    };

/** The fields of a write that decide the stored entry (shared with plain puts). */
export interface WriteFields {
  value: Buffer;
  flags?: number | undefined;
  session?: string | null | undefined;
  lockIndex?: number | undefined;
}

/**
 * The entry a write stores. Flags reset to 0 when not given (Consul's PUT); the session
 * and lock index carry over when undefined, and `session: null` clears the holder.
 */
export function buildEntry(
  key: string,
  w: WriteFields,
  existing: Entry | undefined,
  index: number,
): Entry {
  const entry: Entry = {
    key,
    // Our own copy: the caller may reuse or overwrite its buffer after the call.
    value: Buffer.from(w.value),
    flags: w.flags ?? 0,
    createIndex: existing?.createIndex ?? index,
    modifyIndex: index,
    lockIndex: w.lockIndex ?? existing?.lockIndex ?? 0,
  };
  const session = w.session === undefined ? existing?.session : w.session;
  if (session !== null && session !== undefined) entry.session = session;
  return entry;
}

/** Evaluate `ops` (already validated) as if committed at `nextIndex`. */
export function evaluateTxn(ops: TxnOp[], table: KeyIndex, nextIndex: number): TxnEvaluation {
  const overlay = new Map<string, Entry | null>();
  const get = (key: string): Entry | undefined => {
    const staged = overlay.get(key);
    return staged === undefined ? table.get(key) : (staged ?? undefined);
  };
  const tree = (prefix: string): Entry[] => {
    const keys = new Set(table.keysWithPrefix(prefix));
    for (const k of overlay.keys()) if (k.startsWith(prefix)) keys.add(k);
    return [...keys]
      .sort(compareKeys)
      .map(get)
      .filter((e): e is Entry => e !== undefined);
  };

  /** One op: its result, or a string saying why it did not hold. */
  const apply = (op: TxnOp): { result: TxnOpResult } | string => {
    const key = JSON.stringify(op.key);
    const existing = get(op.key);
    const indexProblem = (want: number): string | undefined => {
      if (!existing) return `key ${key} does not exist`;
      if (existing.modifyIndex === want) return undefined;
      return `current modify index ${existing.modifyIndex} does not match ${want}`;
    };
    const write = (entry: Entry | null): { result: TxnOpResult } => {
      overlay.set(op.key, entry);
      return { result: entry };
    };
    switch (op.op) {
      case 'get':
        return existing ? { result: existing } : `key ${key} doesn't exist`;
      case 'get-tree':
        return { result: tree(op.key) };
      case 'set':
        return write(buildEntry(op.key, op, existing, nextIndex));
      case 'cas': {
        const problem =
          op.index === 0 ? (existing ? `key ${key} exists` : undefined) : indexProblem(op.index);
        return problem ?? write(buildEntry(op.key, op, existing, nextIndex));
      }
      case 'delete':
        return existing ? write(null) : { result: null };
      case 'delete-cas':
        // A missing key counts as already deleted, as with a plain cas delete.
        if (!existing) return { result: null };
        return indexProblem(op.index) ?? write(null);
      case 'delete-tree': {
        const doomed = tree(op.key);
        for (const e of doomed) overlay.set(e.key, null);
        return { result: null };
      }
      case 'check-index':
        return indexProblem(op.index) ?? { result: null };
      case 'check-not-exists':
        return existing ? `key ${key} exists` : { result: null };
      case 'check-session': {
        if (!existing) return `key ${key} does not exist`;
        const holder = existing.session ?? null;
        if (holder === op.session) return { result: null };
        return op.session === null
          ? `key ${key} is locked by session ${JSON.stringify(holder)}`
          : `key ${key} is not locked by session ${JSON.stringify(op.session)}`;
      }
    }
  };

  const results: TxnOpResult[] = [];
  const errors: { opIndex: number; what: string }[] = [];
  // Like Consul, keep going after a failed op so the caller learns every problem at once.
  ops.forEach((op, opIndex) => {
    const outcome = apply(op);
    if (typeof outcome === 'string') errors.push({ opIndex, what: outcome });
    else results.push(outcome.result);
  });
  if (errors.length > 0) return { ok: false, errors };

  const changes: KeyChange[] = [];
  for (const [key, staged] of overlay) {
    if (staged) changes.push({ op: 'put', key, entry: staged });
    else if (table.get(key)) changes.push({ op: 'delete', key });
  }
  return { ok: true, results, changes };
}

/**
 * Reading a store transaction's outcome back as Consul's `/v1/txn` answer: `Results`
 * (`{ "KV": entry }` per result, write results without their value) on success, or
 * `Errors` (`{ OpIndex, What }` in Consul's words) on failure.
 */
import type { Entry, Store, TxnOpResult } from '../../../core/index.ts';
import type { Authorizer } from '../acl/authorizer.ts';
import { storeKey, toConsulEntry } from '../kv/kv-entry.ts';
import type { ConsulEntry } from '../kv/kv-entry.ts';
import type { TxnPlan } from './txn-plan.ts';
import type { KvOp } from './txn-parse.ts';

export interface TxnError {
  OpIndex: number;
  What: string;
}

/** Consul's empty result for `get-or-empty` on a missing key: the op's own fields. */
function emptyEntry(op: KvOp): ConsulEntry {
  return {
    LockIndex: 0,
    Key: op.key,
    Flags: op.flags,
    Value: null,
    ...(op.session === '' ? {} : { Session: op.session }),
    CreateIndex: 0,
    ModifyIndex: op.index,
  };
}

function asEntries(r: TxnOpResult | undefined): Entry[] {
  if (r === undefined || r === null) return [];
  return Array.isArray(r) ? r : [r];
}

/**
 * The results of a committed transaction, in op order. Entries the token may not read are
 * left out, as Consul's `FilterTxnResults` does.
 */
export function collectResults(
  ops: KvOp[],
  plan: TxnPlan,
  results: TxnOpResult[],
  authz: Authorizer,
): { KV: ConsulEntry }[] {
  const out: { KV: ConsulEntry }[] = [];
  ops.forEach((op, i) => {
    const slot = plan.slots[i];
    if (!slot) return;
    const found = asEntries(results[slot.storeOp]);
    let entries: ConsulEntry[];
    switch (op.verb) {
      case 'get':
      case 'get-tree':
        entries = found.map((e) => toConsulEntry(e));
        break;
      case 'get-or-empty': {
        const exact = found.find((e) => e.key === storeKey(op.key));
        entries = [exact ? toConsulEntry(exact) : emptyEntry(op)];
        break;
      }
      case 'set':
      case 'cas':
      case 'lock':
      case 'unlock':
      case 'check-index':
      case 'check-session':
        entries = found.map((e) => toConsulEntry(e, false));
        break;
      default:
        entries = [];
    }
    for (const e of entries) if (authz.allows('key', e.Key, 'read')) out.push({ KV: e });
  });
  return out;
}

/** Consul's text for one failed op, from what the store said about its store op. */
async function describe(store: Store, op: KvOp, what: string): Promise<string> {
  const key = JSON.stringify(op.key);
  const missing = /does not exist|doesn't exist/.test(what);
  switch (op.verb) {
    case 'get':
      return `key ${key} doesn't exist`;
    case 'cas':
      return `failed to set key ${key}, index is stale`;
    case 'delete-cas':
      return `failed to delete key ${key}, index is stale`;
    case 'check-not-exists':
      return `key ${key} exists`;
    case 'check-index': {
      if (missing) return `failed to check index, key ${key} doesn't exist`;
      const current = /current modify index (\d+)/.exec(what)?.[1] ?? '?';
      return `failed index check for key ${key}, current modify index ${current} != ${op.index}`;
    }
    case 'check-session': {
      if (missing) return `failed to check session, key ${key} doesn't exist`;
      // The store's text does not always name the holder; read it for the message.
      const holder = (await store.get(storeKey(op.key)))?.session ?? '';
      return `failed session check for key ${key}, current session ${JSON.stringify(holder)} != ${JSON.stringify(op.session)}`;
    }
    default:
      return what.replaceAll(JSON.stringify(storeKey(op.key)), key);
  }
}

/** One error per failed Consul op, in op order. */
export async function collectErrors(
  store: Store,
  ops: KvOp[],
  plan: TxnPlan,
  failed: { opIndex: number; what: string }[],
): Promise<TxnError[]> {
  const byOp = new Map<number, string>();
  for (const f of failed) {
    const i = plan.owner[f.opIndex] ?? -1;
    if (i < 0 || byOp.has(i)) continue;
    byOp.set(i, f.what);
  }
  const errors: TxnError[] = [];
  for (const [i, what] of [...byOp].sort(([a], [b]) => a - b)) {
    const op = ops[i] as KvOp;
    const planned = plan.slots[i]?.failure;
    errors.push({ OpIndex: i, What: planned ?? (await describe(store, op, what)) });
  }
  return errors;
}

/**
 * A zone's read-only replica of global KV. Zone sync stores each global entry as a `kv`
 * resource at `sync/global/kv/<sha256(key)>` (its record carries global's ModifyIndex) and
 * mirrors it to `kv/<key>` in the same transaction, so both store entries share one
 * ModifyIndex. The KV API reads the mirror; a forwarded write reads the resource to map
 * a client's check-and-set index (a zone index) to global's, and to wait until the
 * replica has caught up with a write global answered.
 */
import {
  globalResourcePrefix,
  isCausewayError,
  kvResourceName,
  readStoredResources,
} from '../../../core/index.ts';
import type { Entry, KvResource, StoredResource, Store } from '../../../core/index.ts';
import { storeKey } from './kv-entry.ts';

/** Where the replica keeps global entries (resource name: the key's SHA-256). */
export const REPLICA_PREFIX = globalResourcePrefix('kv');

export const replicaKey = (key: string): string => REPLICA_PREFIX + kvResourceName(key);

/**
 * What the record of a global key keeps: the key and global's index. The value is in the
 * mirror only (see `kv-projection.ts`).
 */
export type ReplicaRecord = Pick<KvResource, 'key' | 'flags' | 'modifyIndex'>;

/** One global key as the zone holds it. */
export interface ReplicaRead {
  /** The mirror at `kv/<key>` the API serves. */
  entry: Entry | null;
  /** Global's ModifyIndex of the entry, when the replica holds it. */
  globalIndex: number | undefined;
}

function bodyOf(entry: Entry): ReplicaRecord | undefined {
  try {
    return (JSON.parse(entry.value.toString()) as StoredResource<ReplicaRecord>).body;
  } catch {
    return undefined;
  }
}

/**
 * Read a global key's mirror and its replica record together. Both are written in one
 * transaction, so a pair with equal ModifyIndex belongs together; an unequal pair means
 * a delta landed between the two reads, and they are read again. A mirror with no record
 * (a zone key from before the prefix became global, not yet removed) has no global index.
 */
export async function readReplica(store: Store, key: string): Promise<ReplicaRead> {
  for (let attempt = 0; ; attempt++) {
    const record = await store.get(replicaKey(key));
    const entry = await store.get(storeKey(key));
    const body = record ? bodyOf(record) : undefined;
    if (!record || !body || entry?.modifyIndex === record.modifyIndex || attempt >= 4) {
      return {
        entry,
        globalIndex:
          entry && body && entry.modifyIndex === record?.modifyIndex ? body.modifyIndex : undefined,
      };
    }
  }
}

/** What the replica must show before a write global answered counts as visible here. */
export type ReplicaCondition =
  | { kind: 'written'; key: string; index: number }
  | { kind: 'deleted'; key: string; index: number }
  | { kind: 'tree-deleted'; prefix: string; index: number };

async function holds(store: Store, c: ReplicaCondition): Promise<boolean> {
  if (c.kind !== 'tree-deleted') {
    const record = await store.get(replicaKey(c.key));
    const modifyIndex = record ? bodyOf(record)?.modifyIndex : undefined;
    if (c.kind === 'written') return modifyIndex !== undefined && modifyIndex >= c.index;
    // Gone, or written again after the delete.
    return record === null || (modifyIndex !== undefined && modifyIndex >= c.index);
  }
  const all = await readStoredResources<ReplicaRecord>(store, REPLICA_PREFIX);
  for (const { body } of all.values()) {
    if (body.key.startsWith(c.prefix) && body.modifyIndex < c.index) return false;
  }
  return true;
}

/**
 * Wait until the replica reflects a write global made at `c.index`, so a client reads its
 * own write at the zone it wrote through. False when `timeoutMs` passed first (the write
 * is at global all the same; the replica catches up when sync delivers it).
 */
export async function awaitReplica(
  store: Store,
  c: ReplicaCondition,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const stop = (): void => ac.abort();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    while (!ac.signal.aborted) {
      const from = await store.currentIndex();
      if (await holds(store, c)) return true;
      try {
        const events = store.watch(REPLICA_PREFIX, from, {
          exact: false,
          signal: ac.signal,
        });
        // Any change to the replica (or a resync) is a reason to look again.
        await events.next();
        await events.return?.();
      } catch (err) {
        if (isCausewayError(err) && err.code === 'CW_ERR_CLOSED') return false;
        throw err;
      }
    }
    return holds(store, c);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', stop);
  }
}

/** Global keys (Consul keys) the replica holds under `prefix`. */
export async function replicaKeysUnder(store: Store, prefix: string): Promise<Set<string>> {
  const all = await readStoredResources<ReplicaRecord>(store, REPLICA_PREFIX);
  const out = new Set<string>();
  for (const { body } of all.values()) if (body.key.startsWith(prefix)) out.add(body.key);
  return out;
}

/**
 * The zone's replica of global KV. Each `kv` resource global sends is stored at
 * `sync/global/kv/<sha256(key)>` like every resource, and mirrored to `kv/<key>` in the
 * same transaction (the inbox's projection), so reads, blocking queries, listings, ACL
 * filtering and `/v1/txn` reads serve global keys from the zone's own store unchanged.
 *
 * A zone may hold keys of its own under a prefix that then became global (written before
 * it joined, or before global named the prefix). Those are not global's and would shadow
 * nothing global has: they are deleted once, when the zone first learns the prefix, each
 * in a transaction guarded on the replica not holding the key (so nothing global sent is
 * ever removed by it).
 */
import {
  InvalidArgumentError,
  MAX_TXN_OPS,
  globalResourceValidators,
} from '../../../core/index.ts';
import type {
  KvResource,
  KvScopes,
  Logger,
  ResourceProjection,
  ResourceValidator,
  StoredResource,
  Store,
  TxnOp,
} from '../../../core/index.ts';
import { consulKey, storeKey } from '../kv/kv-entry.ts';
import { REPLICA_PREFIX, replicaKey, replicaKeysUnder } from '../kv/kv-replica.ts';
import type { ReplicaRecord } from '../kv/kv-replica.ts';

/** Mirrors of `kv` resources at `kv/<key>`, written with the resource. */
export function kvProjection(store: Store, logger: Logger): ResourceProjection {
  return {
    upsert(_name, body) {
      const kv = body as KvResource;
      // The mirror is global's entry: no session holds it (sessions are zone-local).
      return [
        {
          op: 'set',
          key: storeKey(kv.key),
          value: Buffer.from(kv.value, 'base64'),
          flags: kv.flags,
          session: null,
          lockIndex: 0,
        },
      ];
    },
    // The record keeps global's index and the key; the value lives in the mirror only (as
    // base64 in the record it would push a 512 KiB value past the store's limit).
    record(body): ReplicaRecord {
      const { key, flags, modifyIndex } = body as KvResource;
      return { key, flags, modifyIndex };
    },
    async remove(name) {
      const record = await store.get(REPLICA_PREFIX + name);
      if (!record) return [];
      try {
        const { body } = JSON.parse(record.value.toString()) as StoredResource<ReplicaRecord>;
        return [{ op: 'delete', key: storeKey(body.key) }];
      } catch (err) {
        logger.error(
          { name, err: String(err) },
          'a stored global KV record is unreadable; its mirror under kv/ stays until the key is written again',
        );
        return [];
      }
    },
  };
}

/**
 * The `kv` validator, plus: the key must lie under a global prefix of the welcome. A key
 * outside them is a zone key here, and a replica must never overwrite one (the delta is
 * refused with a NACK naming the resource, and the zone keeps what it had).
 */
export function scopedKvValidator(scopes: () => KvScopes): ResourceValidator {
  return (name, body) => {
    globalResourceValidators.kv(name, body);
    const key = (body as KvResource).key;
    const current = scopes();
    if (current.scopeOf(key) !== 'global') {
      const known = current.globalPrefixes.map((p) => JSON.stringify(p)).join(', ') || 'none';
      throw new InvalidArgumentError(
        `key ${JSON.stringify(key)} is not under a global KV prefix this zone was given (${known}); it is a zone key here`,
        'key',
      );
    }
  };
}

/**
 * Delete the zone's own keys under `prefixes` (prefixes that just became global), keeping
 * every key the replica holds. Returns how many were deleted.
 */
export async function removeStrayKeys(store: Store, prefixes: readonly string[]): Promise<number> {
  let removed = 0;
  for (const prefix of prefixes) {
    const { entries } = await store.list(storeKey(prefix));
    const held = await replicaKeysUnder(store, prefix);
    let strays = entries.map((e) => consulKey(e.key)).filter((k) => !held.has(k));
    const perTxn = Math.floor(MAX_TXN_OPS / 2);
    while (strays.length > 0) {
      const batch = strays.slice(0, perTxn);
      const ops: TxnOp[] = batch.flatMap((key): TxnOp[] => [
        { op: 'check-not-exists', key: replicaKey(key) },
        { op: 'delete', key: storeKey(key) },
      ]);
      const result = await store.txn(ops);
      if (result.ok) {
        removed += batch.length;
        strays = strays.slice(batch.length);
        continue;
      }
      // Global's version of some key arrived meanwhile: keep those, try the rest again.
      const arrived = new Set(result.errors.map((e) => batch[Math.floor(e.opIndex / 2)]));
      if (arrived.size === 0) throw new Error(result.errors.map((e) => e.what).join('; '));
      strays = strays.filter((k) => !arrived.has(k));
    }
  }
  return removed;
}

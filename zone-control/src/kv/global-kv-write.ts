/**
 * A write of a global key made at a zone (`PUT` / `DELETE /v1/kv/<key>`), after the
 * caller's ACL token was checked here: it goes to global as a `kv-write`, and the zone
 * answers its client `true` / `false` exactly like a local write once global has
 * answered and the zone's replica shows the write (so the client reads its own write
 * here). With the sync connection down it is refused with 503 and nothing is sent.
 *
 * Check-and-set indexes are translated: a client only ever saw this zone's ModifyIndex
 * of the mirror (`kv/<key>`), and global compares its own. The mirror and the replica
 * record are written together, so the record holds global's index of exactly the
 * version the client read; a client index that does not match the mirror answers
 * `false` at once, as Consul would.
 */
import type { KvWriteOp, Logger, Store } from '../../../core/index.ts';
import type { GlobalKv } from './global-kv.ts';
import { KvForwardError } from './global-kv.ts';
import { forwardFailed, globalRefused, globalUnreachable } from './global-kv-errors.ts';
import type { WriteSubject } from './global-kv-errors.ts';
import { awaitReplica, readReplica } from './kv-replica.ts';
import type { ReplicaCondition } from './kv-replica.ts';

/** How long a write global answered may wait for the replica to show it. */
export const REPLICA_WAIT_MS = 5_000;

export type GlobalWrite =
  | { verb: 'set'; key: string; value: Buffer; flags: number; cas?: number | undefined }
  | { verb: 'delete'; key: string; cas?: number | undefined }
  | { verb: 'delete-tree'; key: string };

export interface GlobalWriteContext {
  store: Store;
  link: GlobalKv;
  logger: Logger;
  signal?: AbortSignal;
}

/**
 * The op for global, or `false` when the client's check-and-set index already fails here.
 */
async function toGlobalOp(store: Store, w: GlobalWrite): Promise<KvWriteOp | false> {
  if (w.verb === 'delete-tree') return { verb: 'delete-tree', key: w.key };
  if (w.cas === undefined) {
    return w.verb === 'set'
      ? { verb: 'set', key: w.key, value: w.value.toString('base64'), flags: w.flags }
      : { verb: 'delete', key: w.key };
  }
  let index = 0;
  if (w.cas > 0) {
    const { entry, globalIndex } = await readReplica(store, w.key);
    if (entry === null) {
      // Consul: a cas write needs the key; a cas delete of a missing key succeeds — global
      // decides that with index 0 (absent there too: true; the replica is behind: false).
      if (w.verb === 'set') return false;
    } else {
      if (entry.modifyIndex !== w.cas || globalIndex === undefined) return false;
      index = globalIndex;
    }
  }
  return w.verb === 'set'
    ? { verb: 'cas', key: w.key, value: w.value.toString('base64'), flags: w.flags, index }
    : { verb: 'delete-cas', key: w.key, index };
}

function conditionOf(op: KvWriteOp, index: number): ReplicaCondition {
  switch (op.verb) {
    case 'set':
    case 'cas':
      return { kind: 'written', key: op.key, index };
    case 'delete':
    case 'delete-cas':
      return { kind: 'deleted', key: op.key, index };
    case 'delete-tree':
      return { kind: 'tree-deleted', prefix: op.key, index };
  }
}

/** Forward a write of a global key; `true` / `false` as the client is answered. */
export async function writeGlobalKey(
  ctx: GlobalWriteContext,
  w: GlobalWrite,
  prefix: string,
): Promise<boolean> {
  const subject: WriteSubject = { key: w.key, prefix, tree: w.verb === 'delete-tree' };
  if (!ctx.link.contact().knownLeader) throw globalUnreachable(subject);
  const op = await toGlobalOp(ctx.store, w);
  if (op === false) return false;
  let answer;
  try {
    answer = await ctx.link.forward(op);
  } catch (err) {
    if (err instanceof KvForwardError) throw forwardFailed(subject, err.reason);
    throw err;
  }
  if (answer.error) throw globalRefused(subject, answer.error);
  if (!answer.ok) return false;
  const shown = await awaitReplica(
    ctx.store,
    conditionOf(op, answer.index),
    REPLICA_WAIT_MS,
    ctx.signal,
  );
  // A client that left stops the wait; nothing to report then.
  if (!shown && !ctx.signal?.aborted) {
    ctx.logger.warn(
      { key: w.key, verb: op.verb, index: answer.index, waitedMs: REPLICA_WAIT_MS },
      'global applied a KV write, but the zone replica has not shown it yet; answering anyway',
    );
  }
  return true;
}

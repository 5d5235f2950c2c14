/**
 * Global KV at the global control plane, its one writer: every key under the mesh's
 * global prefixes lives here at `kv/<key>` (the layout a zone uses for its own KV) and is
 * replicated read-only to every zone over zone sync (see `kv-index.ts`).
 *
 * One write function serves the HTTP API (`/api/kv`) and the `kv-write` frames zones
 * forward, so both refuse the same inputs with the same errors. Every check runs before
 * the store is touched, and each write is one store operation: a refused write changes
 * nothing.
 */
import {
  InvalidKeyError,
  InvalidArgumentError,
  KvScopes,
  MAX_KV_KEY_BYTES,
  TransactionAbortedError,
  decodeKvWriteOp,
  validateKey,
  validatePrefix,
} from '../../../core/index.ts';
import type { Entry, KvWriteOp, Store, TxnOp } from '../../../core/index.ts';

/** Where global KV lives in global's store. */
export const GLOBAL_KV_STORE_PREFIX = 'kv/';

/** What a write answers: `kv-written` carries it to a zone, the API as JSON. */
export interface KvWriteResult {
  /** False only when a check-and-set did not hold. */
  ok: boolean;
  /**
   * The store index of the write: a put's modifyIndex, the store's index right after a
   * delete, 0 when a check-and-set did not hold.
   */
  index: number;
}

/**
 * A KV key (or, with `tree`, a prefix that may be empty) the store accepts under `kv/`.
 *
 * @throws InvalidKeyError naming `field`.
 */
export function checkKvKey(key: string, field: string, tree = false): string {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KV_KEY_BYTES) {
    throw new InvalidKeyError(
      `${field} is ${bytes} bytes; the limit is ${MAX_KV_KEY_BYTES}`,
      field,
    );
  }
  return tree ? validatePrefix(key, field) : validateKey(key, field);
}

export class GlobalKv {
  readonly scopes: KvScopes;

  constructor(
    private readonly store: Store,
    globalPrefixes: readonly string[],
  ) {
    this.scopes = new KvScopes(globalPrefixes);
  }

  /**
   * The global prefix `key` lies under.
   *
   * @throws InvalidArgumentError naming `field` when `key` is under none of them.
   */
  requireGlobalKey(key: string, field = 'key'): string {
    const prefix = this.scopes.globalPrefixOf(key);
    if (prefix === undefined) {
      throw new InvalidArgumentError(
        `key ${JSON.stringify(key)} is not under a global KV prefix (${this.#prefixes()}): ` +
          'global KV holds only keys in those folders; every other key belongs to a zone',
        field,
      );
    }
    return prefix;
  }

  /**
   * A prefix a recursive delete may take: inside one global prefix. `""` or `glo` would
   * reach into `global/` without lying inside it, and is refused rather than read as
   * "every global key".
   *
   * @throws InvalidArgumentError naming `field`.
   */
  requireGlobalTree(prefix: string, field = 'key'): void {
    if (this.scopes.globalPrefixOf(prefix) !== undefined) return;
    const reached = this.scopes.globalPrefixesUnder(prefix);
    if (reached.length === 0) {
      throw new InvalidArgumentError(
        `prefix ${JSON.stringify(prefix)} is not under a global KV prefix (${this.#prefixes()}): ` +
          'global KV holds only keys in those folders; every other key belongs to a zone',
        field,
      );
    }
    throw new InvalidArgumentError(
      `a recursive delete of ${JSON.stringify(prefix)} reaches into the global KV prefix` +
        `${reached.length > 1 ? 'es' : ''} ${reached.join(', ')} without lying inside one: ` +
        'delete each global folder separately (nothing was deleted)',
      field,
    );
  }

  /**
   * A prefix a listing may take: one that can hold global keys (`""` lists them all).
   *
   * @throws InvalidArgumentError naming `field`.
   */
  requireGlobalListing(prefix: string, field = 'key'): void {
    if (this.scopes.touchesGlobal(prefix)) return;
    throw new InvalidArgumentError(
      `prefix ${JSON.stringify(prefix)} holds no global KV: global KV lives under ${this.#prefixes()}`,
      field,
    );
  }

  /**
   * Write one operation: check its shape (as `decodeKvWriteOp`) and that it stays inside
   * the global prefixes, then write it in one store operation.
   *
   * @param keyField what errors about the key name (`op.key` for a frame, `key` for the API).
   * @throws InvalidArgumentError / InvalidKeyError for a refused input (nothing written).
   */
  async write(op: KvWriteOp, keyField = 'op.key'): Promise<KvWriteResult> {
    const checked = decodeKvWriteOp({ ...op });
    if (checked.verb === 'delete-tree') this.requireGlobalTree(checked.key, keyField);
    else this.requireGlobalKey(checked.key, keyField);
    const key = GLOBAL_KV_STORE_PREFIX + checked.key;
    switch (checked.verb) {
      case 'set':
      case 'cas': {
        const put = await this.store.put(key, Buffer.from(checked.value ?? '', 'base64'), {
          flags: checked.flags ?? 0,
          ...(checked.verb === 'cas' ? { cas: checked.index ?? 0 } : {}),
        });
        return put.ok ? { ok: true, index: put.entry.modifyIndex } : { ok: false, index: 0 };
      }
      case 'delete':
        return this.#delete({ op: 'delete', key });
      case 'delete-cas':
        return this.#delete({ op: 'delete-cas', key, index: checked.index ?? 0 });
      case 'delete-tree':
        return this.#delete({ op: 'delete-tree', key });
    }
  }

  /** One global entry (`key` must be global). */
  get(key: string): Promise<Entry | null> {
    return this.store.get(GLOBAL_KV_STORE_PREFIX + key);
  }

  /** Global entries under `prefix`, keys without `kv/`, and the index of the read. */
  async list(prefix: string): Promise<{ entries: Entry[]; index: number }> {
    const listing = await this.store.list(GLOBAL_KV_STORE_PREFIX + prefix);
    const entries: Entry[] = [];
    for (const entry of listing.entries) {
      const key = entry.key.slice(GLOBAL_KV_STORE_PREFIX.length);
      // Keys left from a prefix that is no longer global are not global KV any more.
      if (this.scopes.globalPrefixOf(key) !== undefined) entries.push({ ...entry, key });
    }
    return { entries, index: listing.index };
  }

  /**
   * A delete as a one-op transaction, whose answer carries the store index (a delete that
   * removes nothing answers the current index). A missing key counts as deleted, even
   * under check-and-set (Consul's delete-cas), so only a check that failed answers false.
   */
  async #delete(op: TxnOp): Promise<KvWriteResult> {
    const result = await this.store.txn([op]);
    if (result.ok) return { ok: true, index: result.index };
    if (op.op === 'delete-cas') return { ok: false, index: 0 };
    throw new TransactionAbortedError(result.errors);
  }

  #prefixes(): string {
    return this.scopes.globalPrefixes.join(', ') || 'none are configured';
  }
}

/**
 * The one storage contract behind the catalog, KV, certificates and federation.
 *
 * Two backends implement it (embedded and Redis) and pass the same contract suite
 * (`test/core/store/contract/`). Semantics follow Consul's KV store where Consul has an
 * opinion, so the Consul-compatible API on top is a thin mapping.
 */

/** One stored key. Values are raw bytes; the store never interprets them. */
export interface Entry {
  key: string;
  value: Buffer;
  /** Opaque client flags (Consul's `Flags`), an unsigned integer ≤ 2^53 − 1. */
  flags: number;
  /** Store index at which the key was created (resets when a key is deleted and recreated). */
  createIndex: number;
  /** Store index of the last write to this key. */
  modifyIndex: number;
  /** Number of times a session acquired this key (Consul's `LockIndex`). */
  lockIndex: number;
  /** The session holding the key's lock, if any (Consul's `Session`). */
  session?: string;
}

export interface PutOptions {
  /** Flags to store; a put without flags stores 0, as Consul does. */
  flags?: number;
  /**
   * Check-and-set: write only if the key's `modifyIndex` equals this value.
   * `0` means "only if the key does not exist".
   */
  cas?: number;
  /**
   * Lock holder to record. `undefined` keeps the current holder (a plain write to a
   * locked key leaves it locked, as in Consul); `null` clears it.
   */
  session?: string | null;
  /** Lock index to record; `undefined` keeps the current value (0 for a new key). */
  lockIndex?: number;
}

/** `ok: false` means a check-and-set did not hold; `current` is what is stored now. */
export type PutResult = { ok: true; entry: Entry } | { ok: false; current: Entry | null };

export interface DeleteOptions {
  /** Delete every key that starts with `key` (which is then a prefix, may be ""). */
  recurse?: boolean;
  /**
   * Check-and-set on the named key's `modifyIndex` (not with `recurse`). A missing key
   * counts as deleted, so the call succeeds — Consul's `delete-cas` behaviour.
   */
  cas?: number;
}

export interface DeleteResult {
  /** False only when a check-and-set did not hold. */
  ok: boolean;
  /** Keys actually removed. */
  deleted: number;
}

export interface ListOptions {
  /**
   * Folder-style listing: keys whose remainder after the prefix contains `separator` are
   * rolled up into `prefixes` (up to and including the first separator), like Consul's
   * `?keys&separator=/`.
   */
  separator?: string;
}

export interface ListResult {
  /** Entries under the prefix in key order (with a separator: only the direct children). */
  entries: Entry[];
  /** With a separator: the distinct folder prefixes, in order. Otherwise empty. */
  prefixes: string[];
  /** The store index this read is consistent with. */
  index: number;
}

/** One operation of a transaction. Reads see the writes made earlier in the same txn. */
export type TxnOp =
  | { op: 'get'; key: string }
  | { op: 'get-tree'; key: string }
  | {
      op: 'set';
      key: string;
      value: Buffer;
      flags?: number;
      session?: string | null;
      lockIndex?: number;
    }
  | {
      op: 'cas';
      key: string;
      value: Buffer;
      index: number;
      flags?: number;
      session?: string | null;
      lockIndex?: number;
    }
  | { op: 'delete'; key: string }
  | { op: 'delete-tree'; key: string }
  | { op: 'delete-cas'; key: string; index: number }
  | { op: 'check-index'; key: string; index: number }
  | { op: 'check-not-exists'; key: string }
  | { op: 'check-session'; key: string; session: string | null };

/** The result of one op: the entry written or read (null for deletes, checks and misses). */
export type TxnOpResult = Entry | Entry[] | null;

export type TxnResult =
  | { ok: true; results: TxnOpResult[]; index: number }
  | { ok: false; errors: { opIndex: number; what: string }[] };

/** A change to one key, part of a {@link ChangeBatch}. */
export type KeyChange = { op: 'put'; key: string; entry: Entry } | { op: 'delete'; key: string };

/** Every change committed at one store index (a put, a delete, or a whole transaction). */
export interface ChangeBatch {
  index: number;
  changes: KeyChange[];
}

/**
 * What a watch yields. `change` carries the changes of one index that match the watch.
 * `resync` means changes were missed (history no longer retained, the store was reset, or
 * the watcher fell too far behind): re-read with `list`/`get` and watch again from the
 * index that read returns. The iterator ends after a `resync`.
 */
export type WatchEvent =
  | { type: 'change'; index: number; changes: KeyChange[] }
  | { type: 'resync'; index: number; reason: string };

export interface WatchOptions {
  /** Match only the exact key rather than every key under the prefix. */
  exact?: boolean;
  /** Ends the iteration (the iterator returns) when aborted. */
  signal?: AbortSignal;
}

export interface Store {
  /** Short name for logs and errors: `embedded`, `redis`. */
  readonly kind: string;

  get(key: string): Promise<Entry | null>;
  list(prefix: string, options?: ListOptions): Promise<ListResult>;
  put(key: string, value: Buffer, options?: PutOptions): Promise<PutResult>;
  delete(key: string, options?: DeleteOptions): Promise<DeleteResult>;
  /** Apply every op or none; at most {@link MAX_TXN_OPS} ops. */
  txn(ops: TxnOp[]): Promise<TxnResult>;
  /** The store-wide index: the index of the last committed write (0 when empty and new). */
  currentIndex(): Promise<number>;
  /**
   * Stream changes under `prefix` with an index greater than `fromIndex`, in index order,
   * never skipping one. A watch on a key or prefix that does not exist yet wakes only when
   * something under it changes.
   */
  watch(
    prefix: string,
    fromIndex: number,
    options?: WatchOptions,
  ): AsyncIterableIterator<WatchEvent>;
  /** Stop serving, end every watch, flush what must be flushed. Idempotent. */
  close(): Promise<void>;
}

/** 512 KiB, Consul's own limit on a KV value. */
export const MAX_VALUE_BYTES = 512 * 1024;
/** Longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/** Most operations in one transaction (Consul allows 64). */
export const MAX_TXN_OPS = 64;

/**
 * The embedded store: the default {@link Store}, a single-process table in memory, optionally
 * made durable with a snapshot and an append-only log in a data directory.
 *
 * Every write is decided and applied synchronously (so check-and-set needs no locks: nothing
 * interleaves between the check and the write), then persisted with group commit. A write's
 * promise resolves, and watchers see its batch, only once it is on disk; reads may already
 * see it a moment earlier, as with Redis's `appendfsync always`.
 */
import { ClosedError, InvalidArgumentError } from '../../errors.ts';
import type { StoreUnavailableError } from '../../errors.ts';
import { rollUp } from '../listing.ts';
import type {
  ChangeBatch,
  DeleteOptions,
  DeleteResult,
  Entry,
  KeyChange,
  ListOptions,
  ListResult,
  PutOptions,
  PutResult,
  Store,
  TxnOp,
  TxnOpResult,
  TxnResult,
  WatchEvent,
  WatchOptions,
} from '../types.ts';
import {
  validateKey,
  validatePrefix,
  validateSession,
  validateTxnOps,
  validateUint,
  validateValue,
} from '../validate.ts';
import { WatchChannel } from '../watch-channel.ts';
import { ChangeHistory } from './change-history.ts';
import { KeyIndex } from './key-index.ts';
import { LogWriter } from './log-writer.ts';
import type { LogStats, LogWriterHooks } from './log-writer.ts';
import { resolveEmbeddedStoreOptions } from './options.ts';
import type { EmbeddedStoreOptions, ResolvedEmbeddedStoreOptions } from './options.ts';
import { recover } from './persistence.ts';
import { buildEntry, evaluateTxn } from './txn-eval.ts';

export type { EmbeddedStoreLogger, EmbeddedStoreOptions } from './options.ts';

/** Counters for tests, metrics and benchmarks. */
export interface EmbeddedStoreStats {
  index: number;
  keys: number;
  watchers: number;
  /** Watches may resume from any index at or above this one. */
  historyBase: number;
  /** Present when the store persists to a data directory. */
  log?: LogStats;
}

interface Watcher {
  channel: WatchChannel;
  /** Deliver only batches above this index (the watch's `fromIndex`). */
  after: number;
}

/** Open the embedded store: recover it from `dataDir` if given, else start empty in memory. */
export async function openEmbeddedStore(
  options: EmbeddedStoreOptions = {},
): Promise<EmbeddedStore> {
  const resolved = resolveEmbeddedStoreOptions(options);
  if (resolved.dataDir === undefined) return new EmbeddedStore(resolved, new KeyIndex(), 0);
  const { dataDir: dir, fsync, logger, compactAfterBytes } = resolved;
  const recovered = await recover({ dir, fsync, logger });
  const store = new EmbeddedStore(resolved, recovered.table, recovered.index);
  store.attachLog(
    new LogWriter(
      { dir, fsync, logger, compactAfterBytes },
      store.logHooks(),
      recovered.log,
      recovered.index,
    ),
    recovered.unlock,
  );
  logger.info?.(
    { dataDir: dir, index: recovered.index, keys: recovered.table.size },
    'embedded store opened',
  );
  return store;
}

export class EmbeddedStore implements Store {
  readonly kind = 'embedded';
  private readonly options: ResolvedEmbeddedStoreOptions;
  private readonly table: KeyIndex;
  private index: number;
  private readonly history: ChangeHistory;
  private readonly watchers = new Set<Watcher>();
  private log: LogWriter | undefined;
  private unlockDataDir: (() => Promise<void>) | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private failure: StoreUnavailableError | undefined;

  /** Use {@link openEmbeddedStore}; the constructor does no I/O. */
  constructor(options: ResolvedEmbeddedStoreOptions, table: KeyIndex, index: number) {
    this.options = options;
    this.table = table;
    this.index = index;
    this.history = new ChangeHistory(options.historyLimit, index);
  }

  get(key: string): Promise<Entry | null> {
    return this.run(() => {
      const e = this.table.get(validateKey(key));
      return e ? copyEntry(e) : null;
    });
  }

  list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    return this.run(() => {
      const entries = this.table.entriesWithPrefix(validatePrefix(prefix));
      const separator = options.separator;
      if (separator === undefined) {
        return { entries: entries.map(copyEntry), prefixes: [], index: this.index };
      }
      if (typeof separator !== 'string' || separator.length === 0) {
        throw new InvalidArgumentError('separator must be a non-empty string', 'separator');
      }
      const rolled = rollUp(entries, (e) => e.key, prefix, separator);
      return { entries: rolled.items.map(copyEntry), prefixes: rolled.prefixes, index: this.index };
    });
  }

  async put(key: string, value: Buffer, options: PutOptions = {}): Promise<PutResult> {
    const { flags, cas, session, lockIndex } = options;
    const outcome = await this.run(() => {
      validateKey(key);
      validateValue(value);
      if (flags !== undefined) validateUint(flags, 'flags');
      if (cas !== undefined) validateUint(cas, 'cas');
      if (lockIndex !== undefined) validateUint(lockIndex, 'lockIndex');
      validateSession(session);
      const existing = this.table.get(key);
      const holds = cas === undefined || (cas === 0 ? !existing : existing?.modifyIndex === cas);
      if (!holds) return { ok: false as const, current: existing ? copyEntry(existing) : null };
      const written = buildEntry(
        key,
        { value, flags, session, lockIndex },
        existing,
        this.index + 1,
      );
      return {
        ok: true as const,
        written,
        durable: this.commit([{ op: 'put', key, entry: written }]),
      };
    });
    if (!outcome.ok) return { ok: false, current: outcome.current };
    await outcome.durable;
    return { ok: true, entry: copyEntry(outcome.written) };
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<DeleteResult> {
    const { recurse = false, cas } = options;
    const outcome = await this.run((): DeleteResult & { durable?: Promise<void> } => {
      if (recurse) {
        validatePrefix(key, 'key');
        if (cas !== undefined) {
          throw new InvalidArgumentError('cas cannot be combined with recurse', 'cas');
        }
        const keys = this.table.keysWithPrefix(key);
        if (keys.length === 0) return { ok: true, deleted: 0 };
        const durable = this.commit(keys.map((k): KeyChange => ({ op: 'delete', key: k })));
        return { ok: true, deleted: keys.length, durable };
      }
      validateKey(key);
      if (cas !== undefined) validateUint(cas, 'cas');
      const existing = this.table.get(key);
      // A missing key counts as deleted even under cas (Consul's delete-cas).
      if (!existing) return { ok: true, deleted: 0 };
      if (cas !== undefined && existing.modifyIndex !== cas) return { ok: false, deleted: 0 };
      return { ok: true, deleted: 1, durable: this.commit([{ op: 'delete', key }]) };
    });
    await outcome.durable;
    return { ok: outcome.ok, deleted: outcome.deleted };
  }

  async txn(ops: TxnOp[]): Promise<TxnResult> {
    const outcome = await this.run(() => {
      const evaluation = evaluateTxn(validateTxnOps(ops), this.table, this.index + 1);
      if (!evaluation.ok) return { result: evaluation };
      const results = evaluation.results.map(copyResult);
      // No net change (nothing written, or a key created and deleted again): no index, no
      // batch, no watch event; the answer is consistent with the current index.
      if (evaluation.changes.length === 0) {
        return { result: { ok: true as const, results, index: this.index } };
      }
      const durable = this.commit(evaluation.changes);
      return { result: { ok: true as const, results, index: this.index }, durable };
    });
    await outcome.durable;
    return outcome.result;
  }

  currentIndex(): Promise<number> {
    return this.run(() => this.index);
  }

  watch(
    prefix: string,
    fromIndex: number,
    options: WatchOptions = {},
  ): AsyncIterableIterator<WatchEvent> {
    this.assertUsable();
    validatePrefix(prefix);
    validateUint(fromIndex, 'fromIndex');
    // onClose never runs inside the constructor (an aborted signal closes the channel on the
    // next microtask), so it may refer to `watcher` declared just below.
    const channel = new WatchChannel({
      prefix,
      exact: options.exact,
      signal: options.signal,
      maxBuffered: this.options.maxWatchBuffered,
      onClose: () => this.watchers.delete(watcher),
    });
    const watcher: Watcher = { channel, after: fromIndex };
    // Already aborted: the channel is about to end, and must not yield history first.
    if (options.signal?.aborted) return channel;
    if (fromIndex > this.index) {
      channel.resync(
        this.index,
        `index ${fromIndex} is ahead of the store (${this.index}): it was reset`,
      );
    } else if (fromIndex < this.history.base) {
      channel.resync(
        this.index,
        `changes after index ${fromIndex} are no longer retained (history starts after ${this.history.base})`,
      );
    } else {
      for (const batch of this.history.since(fromIndex)) this.offer(watcher, batch);
    }
    if (!channel.closed) this.watchers.add(watcher);
    return channel;
  }

  /**
   * Write a snapshot now and drop the log behind it (normally automatic past
   * `compactAfterBytes`). A no-op for an in-memory store.
   */
  async compact(): Promise<void> {
    this.assertUsable();
    await this.log?.compact();
  }

  stats(): EmbeddedStoreStats {
    const stats: EmbeddedStoreStats = {
      index: this.index,
      keys: this.table.size,
      watchers: this.watchers.size,
      historyBase: this.history.base,
    };
    if (this.log) stats.log = this.log.stats();
    return stats;
  }

  /** Flush queued writes to disk, end every watch, release the files. Idempotent. */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      try {
        await this.log?.close();
      } finally {
        for (const w of [...this.watchers]) w.channel.close();
        this.watchers.clear();
        await this.unlockDataDir?.();
      }
    })();
    return this.closing;
  }

  /** @internal Wiring used by {@link openEmbeddedStore}. */
  attachLog(log: LogWriter, unlockDataDir: () => Promise<void>): void {
    this.log = log;
    this.unlockDataDir = unlockDataDir;
  }

  /** @internal The callbacks the {@link LogWriter} needs from the store. */
  logHooks(): LogWriterHooks {
    return {
      capture: () => ({ index: this.index, entries: this.table.allEntries() }),
      onDurable: (batch) => this.publish(batch),
      onFailure: (err) => {
        this.failure = err;
        for (const w of [...this.watchers]) w.channel.resync(this.index, err.message);
      },
    };
  }

  /**
   * Run a synchronous step as a promise, so validation errors reject instead of throwing.
   * An async function runs up to its first await at once, so the step still executes
   * synchronously at the call: concurrent calls are applied in call order.
   */
  // eslint-disable-next-line @typescript-eslint/require-await
  private async run<T>(step: () => T): Promise<T> {
    this.assertUsable();
    return step();
  }

  private assertUsable(): void {
    if (this.closed) throw new ClosedError('embedded store');
    if (this.failure) throw this.failure;
  }

  /**
   * Apply changes at the next index and persist them. Synchronous up to the returned promise,
   * which resolves when the batch is durable (at once in memory).
   */
  private commit(changes: KeyChange[]): Promise<void> {
    const batch: ChangeBatch = { index: this.index + 1, changes };
    for (const c of changes) {
      if (c.op === 'put') this.table.set(c.entry);
      else this.table.delete(c.key);
    }
    this.index = batch.index;
    if (this.log) return this.log.append(batch);
    this.publish(batch);
    return Promise.resolve();
  }

  /** A batch is committed (and durable): keep it for resuming watches and fan it out. */
  private publish(batch: ChangeBatch): void {
    this.history.push(batch);
    for (const w of this.watchers) this.offer(w, batch);
  }

  private offer(w: Watcher, batch: ChangeBatch): void {
    if (batch.index <= w.after) return;
    // Each watcher gets its own copies: a consumer must not be able to alter the store's
    // entries, nor what another watcher sees.
    const changes = batch.changes.filter((c) => w.channel.matches(c.key)).map(copyChange);
    if (changes.length > 0) w.channel.offer({ index: batch.index, changes });
  }
}

function copyEntry(e: Entry): Entry {
  return { ...e, value: Buffer.from(e.value) };
}

function copyChange(c: KeyChange): KeyChange {
  return c.op === 'put' ? { op: 'put', key: c.key, entry: copyEntry(c.entry) } : { ...c };
}

function copyResult(r: TxnOpResult): TxnOpResult {
  if (r === null) return null;
  return Array.isArray(r) ? r.map(copyEntry) : copyEntry(r);
}

/**
 * The append side of the embedded store's log: group commit and compaction.
 *
 * Group commit: every batch committed while a write + fdatasync is in flight waits in a
 * queue, and the whole queue goes out as one write and one fdatasync when the disk is free.
 * Throughput then grows with concurrency instead of being capped at one fsync per write,
 * and no caller is told "done" before its record is on disk.
 *
 * Compaction ("roll"): past a size threshold the writer captures the table (synchronously,
 * so it is exactly the table at one index), starts a new log named after the durable index,
 * then writes the snapshot in the background while appends continue in the new log. See
 * data-dir.ts for why every intermediate state on disk is recoverable.
 */
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ClosedError, StoreUnavailableError } from '../../errors.ts';
import type { ChangeBatch } from '../types.ts';
import { logFileName, removeObsolete, syncDir } from './data-dir.ts';
import { ioFailure } from './io-errors.ts';
import { encodeBatch, frame } from './record-codec.ts';
import { writeSnapshot } from './snapshot-file.ts';
import type { SnapshotData } from './snapshot-file.ts';
import type { EmbeddedStoreLogger } from './options.ts';

export interface LogWriterHooks {
  /** The in-memory table right now, at the store's current index. Must not await. */
  capture(): SnapshotData;
  /** A batch is on disk; called once per batch, in index order. */
  onDurable(batch: ChangeBatch): void;
  /** The log could not be written: the store must stop serving. */
  onFailure(err: StoreUnavailableError): void;
}

export interface LogWriterConfig {
  dir: string;
  fsync: boolean;
  compactAfterBytes: number;
  logger: EmbeddedStoreLogger;
}

/** The open log file recovery hands over. */
export interface OpenLog {
  fh: FileHandle;
  start: number;
  bytes: number;
}

/** Counters for tests, metrics and benchmarks. */
export interface LogStats {
  /** Write + fdatasync rounds; fewer than `records` under concurrency (group commit). */
  flushes: number;
  records: number;
  logBytes: number;
  logStart: number;
  durableIndex: number;
  snapshots: number;
}

interface Pending {
  batch: ChangeBatch;
  record: Buffer;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class LogWriter {
  private log: OpenLog;
  private durableIndex: number;
  private queue: Pending[] = [];
  private running: Promise<void> | undefined;
  private snapshotJob: Promise<void> | undefined;
  private rollWaiters: Waiter[] = [];
  private rollAtBytes: number;
  private failure: StoreUnavailableError | undefined;
  private closed = false;
  private readonly counters = { flushes: 0, records: 0, snapshots: 0 };

  constructor(
    private readonly config: LogWriterConfig,
    private readonly hooks: LogWriterHooks,
    log: OpenLog,
    durableIndex: number,
  ) {
    this.log = log;
    this.durableIndex = durableIndex;
    this.rollAtBytes = config.compactAfterBytes;
  }

  /** Queue a committed batch; resolves once its record is durable. */
  append(batch: ChangeBatch): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new ClosedError('embedded store log'));
    const record = frame(encodeBatch(batch));
    return new Promise((resolve, reject) => {
      this.queue.push({ batch, record, resolve, reject });
      this.kick();
    });
  }

  /** Snapshot the table now and drop the log behind it; resolves once that is on disk. */
  compact(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new ClosedError('embedded store log'));
    return new Promise((resolve, reject) => {
      this.rollWaiters.push({ resolve, reject });
      this.kick();
    });
  }

  stats(): LogStats {
    return {
      ...this.counters,
      logBytes: this.log.bytes,
      logStart: this.log.start,
      durableIndex: this.durableIndex,
    };
  }

  /** Flush what is queued, let a running snapshot finish, and close the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.running || this.snapshotJob) {
      await this.running;
      await this.snapshotJob;
    }
    for (const w of this.rollWaiters.splice(0)) w.reject(new ClosedError('embedded store log'));
    await this.log.fh.close();
  }

  private kick(): void {
    if (this.running || this.failure) return;
    // run() handles I/O errors itself; anything else escaping it is a bug, and stopping the
    // store beats leaving callers waiting forever.
    this.running = this.run()
      .catch((err: unknown) => this.fail(err, []))
      .finally(() => {
        this.running = undefined;
        if (this.queue.length > 0 || this.shouldRoll()) this.kick();
      });
  }

  private async run(): Promise<void> {
    // Let every append made in the same tick join the first group.
    await Promise.resolve();
    while (!this.failure) {
      if (this.shouldRoll()) await this.roll();
      else if (this.queue.length > 0) await this.flushGroup();
      else break;
    }
  }

  private shouldRoll(): boolean {
    if (this.snapshotJob || this.failure) return false;
    return this.rollWaiters.length > 0 || (!this.closed && this.log.bytes >= this.rollAtBytes);
  }

  private async flushGroup(): Promise<void> {
    const group = this.queue.splice(0);
    const data = group.length === 1 ? group[0]!.record : Buffer.concat(group.map((p) => p.record));
    try {
      let off = 0;
      while (off < data.length) {
        const { bytesWritten } = await this.log.fh.write(data, off, data.length - off);
        off += bytesWritten;
      }
      if (this.config.fsync) await this.log.fh.datasync();
    } catch (err) {
      this.fail(err, group);
      return;
    }
    this.log.bytes += data.length;
    this.counters.flushes++;
    this.counters.records += group.length;
    for (const p of group) {
      this.durableIndex = p.batch.index;
      this.hooks.onDurable(p.batch);
    }
    for (const p of group) p.resolve();
  }

  private fail(err: unknown, group: Pending[]): void {
    // After a failed write or fsync the file's state is unknown (a failed fsync may even
    // have dropped dirty pages), so nothing is retried: the store stops and recovery on the
    // next open decides what is really on disk.
    const first = this.failure === undefined;
    const message = err instanceof Error ? err.message : String(err);
    const failure = (this.failure ??= new StoreUnavailableError(
      `embedded store cannot write its log: ${message}`,
      err,
    ));
    for (const p of [...group, ...this.queue.splice(0)]) p.reject(failure);
    for (const w of this.rollWaiters.splice(0)) w.reject(failure);
    if (!first) return;
    this.config.logger.warn({ err }, 'embedded store log write failed; the store is stopping');
    this.hooks.onFailure(failure);
  }

  private async roll(): Promise<void> {
    const waiters = this.rollWaiters.splice(0);
    // Captured before any await: the snapshot is exactly the table at the store's current
    // index. Batches still queued are at or below it and go to the new log; recovery skips
    // log records the snapshot already covers.
    const snapshot = this.hooks.capture();
    const start = this.durableIndex;
    if (start !== this.log.start) {
      let fh: FileHandle | undefined;
      try {
        fh = await open(path.join(this.config.dir, logFileName(start)), 'ax');
        if (this.config.fsync) await syncDir(this.config.dir);
      } catch (err) {
        await fh?.close().catch(() => undefined);
        this.config.logger.warn({ err }, 'embedded store could not start a new log segment');
        this.rollAtBytes = this.log.bytes + this.config.compactAfterBytes;
        const failure = ioFailure(
          err,
          `embedded store cannot start a log segment in ${this.config.dir}`,
        );
        for (const w of waiters) w.reject(failure);
        return;
      }
      const old = this.log.fh;
      this.log = { fh, start, bytes: 0 };
      await old.close().catch((err: unknown) => {
        this.config.logger.warn({ err }, 'embedded store could not close an old log segment');
      });
    }
    this.rollAtBytes = this.config.compactAfterBytes;
    this.snapshotJob = this.writeSnapshot(snapshot, waiters).finally(() => {
      this.snapshotJob = undefined;
      if (!this.closed || this.rollWaiters.length > 0) this.kick();
    });
  }

  private async writeSnapshot(snapshot: SnapshotData, waiters: Waiter[]): Promise<void> {
    const { dir, fsync, logger } = this.config;
    try {
      const file = await writeSnapshot(dir, snapshot, fsync);
      const removed = await removeObsolete(dir, snapshot.index, this.log.start, fsync);
      this.counters.snapshots++;
      logger.info?.(
        { file, index: snapshot.index, entries: snapshot.entries.length, removed },
        'embedded store wrote a snapshot',
      );
      for (const w of waiters) w.resolve();
    } catch (err) {
      // The previous snapshot and every log segment are still in place, so nothing is lost;
      // the next roll tries again.
      logger.warn({ err }, 'embedded store snapshot failed; keeping the log');
      const failure = ioFailure(err, `embedded store cannot write a snapshot in ${dir}`);
      for (const w of waiters) w.reject(failure);
    }
  }
}

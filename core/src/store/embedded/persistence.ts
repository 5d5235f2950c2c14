/**
 * Recovery of the embedded store from its data directory: load the newest snapshot, replay
 * the log segments after it, repair a torn tail, and hand the open newest segment to the
 * {@link LogWriter}.
 *
 * A crash can only damage the last flush of the newest segment, none of which was
 * acknowledged: damage that looks like a crash (log-damage.ts) is dropped and the file cut
 * back to the last intact record. Anything else means the log was altered after the fact,
 * and recovery refuses to guess ({@link CorruptDataError}) rather than lose or misread
 * acknowledged writes.
 */
import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Entry } from '../types.ts';
import { listDataDir, logFileName, removeObsolete, snapshotFileName, syncDir } from './data-dir.ts';
import { lockDataDir } from './dir-lock.ts';
import { openFailure } from './io-errors.ts';
import { KeyIndex } from './key-index.ts';
import type { OpenLog } from './log-writer.ts';
import type { EmbeddedStoreLogger } from './options.ts';
import { judgeDamage } from './log-damage.ts';
import { corrupt, decodeBatch, readFrame } from './record-codec.ts';
import { readSnapshot } from './snapshot-file.ts';

export interface RecoverOptions {
  dir: string;
  fsync: boolean;
  logger: EmbeddedStoreLogger;
}

export interface Recovered {
  table: KeyIndex;
  /** The store index after replay: the last acknowledged (or later) write. */
  index: number;
  /** The newest log segment, open for appending. */
  log: OpenLog;
  /** Give up the directory lock (on close). */
  unlock: () => Promise<void>;
}

interface Replay {
  table: Map<string, Entry>;
  /** Index covered by the snapshot: log records at or below it are already applied. */
  snapshotIndex: number;
  index: number;
}

/** Open (creating if needed) the data directory and rebuild the table it describes. */
export async function recover(options: RecoverOptions): Promise<Recovered> {
  let unlock: () => Promise<void>;
  try {
    await mkdir(options.dir, { recursive: true });
    unlock = await lockDataDir(options.dir, options.logger);
  } catch (err) {
    throw openFailure(err, options.dir);
  }
  try {
    return { ...(await recoverLocked(options)), unlock };
  } catch (err) {
    await unlock();
    throw openFailure(err, options.dir);
  }
}

async function recoverLocked(options: RecoverOptions): Promise<Omit<Recovered, 'unlock'>> {
  const { dir, fsync, logger } = options;
  const listing = await listDataDir(dir);

  const snapshotIndex = listing.snapshots.at(-1) ?? 0;
  const replay: Replay = { table: new Map(), snapshotIndex, index: snapshotIndex };
  if (listing.snapshots.length > 0) {
    const file = path.join(dir, snapshotFileName(snapshotIndex));
    const snap = await readSnapshot(file);
    if (snap.index !== snapshotIndex) {
      corrupt(file, 0, `header says index ${snap.index}, the file name ${snapshotIndex}`);
    }
    for (const e of snap.entries) replay.table.set(e.key, e);
  }

  // The segment holding the first batch after the snapshot is the last one starting at or
  // before it; earlier segments hold only batches the snapshot covers.
  const first = listing.logs.findLastIndex((start) => start <= snapshotIndex);
  if (listing.logs.length > 0 && first === -1) {
    corrupt(
      path.join(dir, logFileName(listing.logs[0]!)),
      0,
      `the oldest log starts after the snapshot at index ${snapshotIndex}: batches are missing`,
    );
  }
  const segments = first === -1 ? [] : listing.logs.slice(first);
  let goodBytes = 0;
  let lastInNewest = snapshotIndex;
  for (const [i, start] of segments.entries()) {
    const newest = i === segments.length - 1;
    ({ goodBytes, last: lastInNewest } = await replaySegment(dir, start, newest, replay, logger));
  }

  let log: OpenLog;
  const newestStart = segments.at(-1);
  if (newestStart === undefined || lastInNewest < snapshotIndex) {
    // No log yet, or the snapshot already covers everything in the newest one (it was taken
    // while that segment's last writes were still queued): start a segment at the snapshot
    // so a later replay never sees a gap between a segment's records.
    const fh = await open(path.join(dir, logFileName(snapshotIndex)), 'a');
    if (fsync) await syncDir(dir);
    log = { fh, start: snapshotIndex, bytes: 0 };
  } else {
    const fh = await open(path.join(dir, logFileName(newestStart)), 'a');
    const { size } = await fh.stat();
    if (size > goodBytes) {
      await fh.truncate(goodBytes);
      if (fsync) await fh.datasync();
    }
    log = { fh, start: newestStart, bytes: goodBytes };
  }
  await removeObsolete(dir, snapshotIndex, log.start, fsync);
  return { table: KeyIndex.fromEntries(replay.table.values()), index: replay.index, log };
}

/**
 * Apply one segment's batches. Returns how many leading bytes are intact and the index of
 * its last intact record (its start when it has none).
 */
async function replaySegment(
  dir: string,
  start: number,
  newest: boolean,
  replay: Replay,
  logger: EmbeddedStoreLogger,
): Promise<{ goodBytes: number; last: number }> {
  const file = path.join(dir, logFileName(start));
  if (start > replay.index) {
    corrupt(file, 0, `starts after index ${start} but replay reached only ${replay.index}`);
  }
  const buf = await readFile(file);
  let offset = 0;
  let last = start;
  while (offset < buf.length) {
    const f = readFrame(buf, offset);
    if (!f.ok) {
      const verdict = judgeDamage(buf, offset, last);
      if (verdict.kind === 'corrupt') {
        corrupt(file, offset, `damaged record (${f.reason}): ${verdict.problem}`);
      }
      if (!newest) corrupt(file, offset, `damaged record (${f.reason}) in an older log segment`);
      const dropped = { file, offset, droppedBytes: buf.length - offset, reason: f.reason };
      if (verdict.kind === 'torn') {
        logger.warn(dropped, 'embedded store dropped a torn record at the end of its log');
      } else {
        logger.warn(
          { ...dropped, intactRecordsDropped: verdict.survivors },
          'embedded store dropped the torn end of its log: a last flush that never completed ' +
            '(lost pages, then records it had written)',
        );
      }
      return { goodBytes: offset, last };
    }
    const batch = decodeBatch(f.payload, `${file} at byte ${offset}`);
    if (batch.index !== last + 1) {
      corrupt(file, offset, `record has index ${batch.index}, expected ${last + 1}`);
    }
    if (batch.index > replay.snapshotIndex) {
      if (batch.index !== replay.index + 1) {
        corrupt(file, offset, `record has index ${batch.index}, replay is at ${replay.index}`);
      }
      for (const c of batch.changes) {
        if (c.op === 'put') replay.table.set(c.key, c.entry);
        else replay.table.delete(c.key);
      }
      replay.index = batch.index;
    }
    last = batch.index;
    offset = f.end;
  }
  return { goodBytes: offset, last };
}

/**
 * Snapshot files: the whole table at one index, written atomically (temp file, fsync,
 * rename, fsync the directory) so a crash leaves either the old snapshot or the new one,
 * never half of one. Because of that, any damage found when reading one is real
 * corruption, not a torn write, and is reported instead of repaired.
 */
import { open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { Entry } from '../types.ts';
import { BinaryReader, BinaryWriter } from './binary.ts';
import { snapshotFileName, syncDir } from './data-dir.ts';
import {
  TAG_SNAPSHOT_ENTRIES,
  TAG_SNAPSHOT_HEAD,
  corrupt,
  frame,
  readEntry,
  readFrame,
  writeEntry,
} from './record-codec.ts';

const MAGIC = Buffer.from('CWSNAP\u0000\u0001', 'latin1');
/** Entries are written in runs of about this many bytes: few syscalls, bounded memory. */
const CHUNK_BYTES = 1 << 20;

export interface SnapshotData {
  /** The store index the table is consistent with. */
  index: number;
  /** Every entry, in any order. */
  entries: Entry[];
}

/** Write `data` as `snapshot-<index>.snap` in `dir`, atomically; returns the file path. */
export async function writeSnapshot(
  dir: string,
  data: SnapshotData,
  fsync: boolean,
): Promise<string> {
  const finalPath = path.join(dir, snapshotFileName(data.index));
  const tmpPath = `${finalPath}.tmp`;
  const fh = await open(tmpPath, 'w');
  try {
    const head = new BinaryWriter(32).u8(TAG_SNAPSHOT_HEAD).u64(data.index);
    await fh.write(Buffer.concat([MAGIC, frame(head.u64(data.entries.length).finish())]));
    let i = 0;
    while (i < data.entries.length) {
      const w = new BinaryWriter(64 * 1024).u8(TAG_SNAPSHOT_ENTRIES);
      const countAt = w.length;
      w.u32(0);
      let n = 0;
      while (i < data.entries.length && w.length < CHUNK_BYTES) {
        writeEntry(w, data.entries[i++]!);
        n++;
      }
      const payload = w.finish();
      payload.writeUInt32BE(n, countAt);
      // Awaiting each chunk also yields the event loop, so a large snapshot does not stall
      // reads and writes that continue meanwhile.
      await fh.write(frame(payload));
    }
    if (fsync) await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmpPath, finalPath);
  if (fsync) await syncDir(dir);
  return finalPath;
}

/** Read and fully verify a snapshot; any damage is a CorruptDataError. */
export async function readSnapshot(file: string): Promise<SnapshotData> {
  const buf = await readFile(file);
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    corrupt(file, 0, 'not a Causeway snapshot (bad magic)');
  }
  let offset = MAGIC.length;
  const first = readFrame(buf, offset);
  if (!first.ok) corrupt(file, offset, first.reason);
  const head = new BinaryReader(first.payload, `${file} header`);
  if (head.u8() !== TAG_SNAPSHOT_HEAD) head.fail('first record is not a snapshot header');
  const index = head.u64();
  const count = head.u64();
  head.end();
  offset = first.end;

  const entries: Entry[] = [];
  while (offset < buf.length) {
    const f = readFrame(buf, offset);
    if (!f.ok) corrupt(file, offset, f.reason);
    const r = new BinaryReader(f.payload, `${file} at byte ${offset}`);
    if (r.u8() !== TAG_SNAPSHOT_ENTRIES) r.fail('expected a run of entries');
    const n = r.u32();
    for (let i = 0; i < n; i++) entries.push(readEntry(r));
    r.end();
    offset = f.end;
  }
  if (entries.length !== count) {
    corrupt(file, offset, `header promises ${count} entries, found ${entries.length}`);
  }
  return { index, entries };
}

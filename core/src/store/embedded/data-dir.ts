/**
 * File naming and housekeeping in the embedded store's data directory.
 *
 * - `snapshot-<index>.snap`: the whole table at `index`.
 * - `log-<start>.log`: change batches with indexes above `start`, in order.
 *
 * Names carry indexes (zero-padded to sort as text), never "current"/"old": every step of a
 * compaction leaves a directory that recovery can read unambiguously, so a crash between
 * any two steps loses nothing. Recovery takes the newest snapshot and replays the logs
 * that can hold later batches; anything older is garbage, removed once a newer snapshot is
 * safely on disk.
 */
import { open, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';

const SNAPSHOT_RE = /^snapshot-(\d{16})\.snap$/;
const LOG_RE = /^log-(\d{16})\.log$/;

export function snapshotFileName(index: number): string {
  return `snapshot-${String(index).padStart(16, '0')}.snap`;
}

export function logFileName(start: number): string {
  return `log-${String(start).padStart(16, '0')}.log`;
}

export interface DataDirListing {
  /** Snapshot indexes, ascending. */
  snapshots: number[];
  /** Log start indexes, ascending. */
  logs: number[];
  /** Leftovers of an interrupted snapshot write (`*.tmp`), safe to delete. */
  temps: string[];
}

export async function listDataDir(dir: string): Promise<DataDirListing> {
  const listing: DataDirListing = { snapshots: [], logs: [], temps: [] };
  for (const name of await readdir(dir)) {
    const snap = SNAPSHOT_RE.exec(name);
    const log = LOG_RE.exec(name);
    if (snap) listing.snapshots.push(Number(snap[1]));
    else if (log) listing.logs.push(Number(log[1]));
    else if (name.endsWith('.tmp')) listing.temps.push(name);
  }
  listing.snapshots.sort((a, b) => a - b);
  listing.logs.sort((a, b) => a - b);
  return listing;
}

/** fsync a directory so a create, rename or unlink in it survives power loss. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Delete what a snapshot at `snapshotIndex` has made redundant: older snapshots, logs that
 * start before `keepLogsFrom` (the log recovery would start replaying from), and temp
 * files. Returns the names removed.
 */
export async function removeObsolete(
  dir: string,
  snapshotIndex: number,
  keepLogsFrom: number,
  fsync: boolean,
): Promise<string[]> {
  const listing = await listDataDir(dir);
  const names = [
    ...listing.snapshots.filter((i) => i < snapshotIndex).map(snapshotFileName),
    ...listing.logs.filter((s) => s < keepLogsFrom).map(logFileName),
    ...listing.temps,
  ];
  for (const name of names) {
    await unlink(path.join(dir, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
  if (names.length > 0 && fsync) await syncDir(dir);
  return names;
}

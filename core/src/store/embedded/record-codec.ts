/**
 * On-disk framing and payloads of the embedded store.
 *
 * Every record is `[u32 length][u32 crc32(payload)][payload]`, big-endian. The payload
 * starts with a one-byte tag, so a record can never be mistaken for another kind, and the
 * tag doubles as the format version (a new layout gets a new tag).
 */
import { crc32 } from 'node:zlib';
import { CorruptDataError } from '../../errors.ts';
import type { ChangeBatch, Entry, KeyChange } from '../types.ts';
import { BinaryReader, BinaryWriter } from './binary.ts';

export const FRAME_HEADER_BYTES = 8;

/** One committed {@link ChangeBatch} in the append-only log. */
export const TAG_BATCH = 0x01;
/** First record of a snapshot: its index and entry count. */
export const TAG_SNAPSHOT_HEAD = 0x02;
/** A run of snapshot entries. */
export const TAG_SNAPSHOT_ENTRIES = 0x03;

const OP_PUT = 0x01;
const OP_DELETE = 0x02;

/** Wrap a payload in a length + CRC frame. */
export function frame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(crc32(payload), 4);
  payload.copy(out, FRAME_HEADER_BYTES);
  return out;
}

export type FrameCheck = { ok: true; payload: Buffer; end: number } | { ok: false; reason: string };

/** Check the frame at `offset` without trusting anything in it. */
export function readFrame(buf: Buffer, offset: number): FrameCheck {
  if (buf.length - offset < FRAME_HEADER_BYTES) {
    return { ok: false, reason: `short frame header (${buf.length - offset} bytes)` };
  }
  const len = buf.readUInt32BE(offset);
  // No payload is empty (it has at least its tag), and an all-zero region (what a crash can
  // leave past the end of an extended file) would otherwise pass: crc32 of nothing is 0.
  if (len === 0) return { ok: false, reason: 'zero-length frame' };
  const end = offset + FRAME_HEADER_BYTES + len;
  if (end > buf.length) {
    return { ok: false, reason: `frame of ${len} bytes runs past the end of the file` };
  }
  const payload = buf.subarray(offset + FRAME_HEADER_BYTES, end);
  if (crc32(payload) !== buf.readUInt32BE(offset + 4)) {
    return { ok: false, reason: 'CRC mismatch' };
  }
  return { ok: true, payload, end };
}

export function writeEntry(w: BinaryWriter, e: Entry): void {
  w.string(e.key).bytes(e.value).u64(e.flags).u64(e.createIndex).u64(e.modifyIndex);
  w.u64(e.lockIndex);
  if (e.session === undefined) w.u8(0);
  else w.u8(1).string(e.session);
}

export function readEntry(r: BinaryReader): Entry {
  const key = r.string();
  if (key.length === 0) r.fail('entry with an empty key');
  const entry: Entry = {
    key,
    value: r.bytes(),
    flags: r.u64(),
    createIndex: r.u64(),
    modifyIndex: r.u64(),
    lockIndex: r.u64(),
  };
  const hasSession = r.u8();
  if (hasSession === 1) entry.session = r.string();
  else if (hasSession !== 0) r.fail(`bad session marker ${hasSession}`);
  return entry;
}

export function encodeBatch(batch: ChangeBatch): Buffer {
  // Sized up front (keys at worst 3 UTF-8 bytes per UTF-16 unit) so the writer never has to
  // grow and copy a batch carrying large values.
  let size = 16;
  for (const c of batch.changes) {
    size += 64 + c.key.length * 3;
    if (c.op === 'put') size += c.entry.value.length + (c.entry.session?.length ?? 0) * 3;
  }
  const w = new BinaryWriter(size);
  w.u8(TAG_BATCH).u64(batch.index).u32(batch.changes.length);
  for (const c of batch.changes) {
    if (c.op === 'put') writeEntry(w.u8(OP_PUT), c.entry);
    else w.u8(OP_DELETE).string(c.key);
  }
  return w.finish();
}

export function decodeBatch(payload: Buffer, what: string): ChangeBatch {
  const r = new BinaryReader(payload, what);
  const tag = r.u8();
  if (tag !== TAG_BATCH) r.fail(`expected a change batch (tag ${TAG_BATCH}), got tag ${tag}`);
  const index = r.u64();
  const n = r.u32();
  const changes: KeyChange[] = [];
  for (let i = 0; i < n; i++) {
    const op = r.u8();
    if (op === OP_PUT) {
      const entry = readEntry(r);
      changes.push({ op: 'put', key: entry.key, entry });
    } else if (op === OP_DELETE) {
      changes.push({ op: 'delete', key: r.string() });
    } else {
      r.fail(`unknown change op ${op}`);
    }
  }
  r.end();
  return { index, changes };
}

/**
 * The index a batch payload claims, read without decoding the rest: a cheap filter when
 * hunting for intact records after a damaged one.
 */
export function peekBatchIndex(payload: Buffer): number | undefined {
  if (payload.length < 9 || payload[0] !== TAG_BATCH) return undefined;
  const n = payload.readUInt32BE(1) * 2 ** 32 + payload.readUInt32BE(5);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The smallest batch record: frame header, tag, index and a change count of zero. */
export const MIN_BATCH_RECORD_BYTES = FRAME_HEADER_BYTES + 1 + 8 + 4;

/** An intact batch record found in a log buffer. */
export interface IntactBatch {
  at: number;
  end: number;
  index: number;
}

/**
 * The intact batch record at `at` if it has an index from `minIndex` to `maxIndex` and
 * decodes completely; a CRC match alone could be a coincidence, or bytes inside a value.
 */
function intactBatchAt(
  buf: Buffer,
  at: number,
  minIndex: number,
  maxIndex: number,
): IntactBatch | undefined {
  if (buf[at + FRAME_HEADER_BYTES] !== TAG_BATCH) return undefined;
  const len = buf.readUInt32BE(at);
  const end = at + FRAME_HEADER_BYTES + len;
  if (len < MIN_BATCH_RECORD_BYTES - FRAME_HEADER_BYTES || end > buf.length) return undefined;
  const payload = buf.subarray(at + FRAME_HEADER_BYTES, end);
  const index = peekBatchIndex(payload);
  if (index === undefined || index < minIndex || index > maxIndex) return undefined;
  if (crc32(payload) !== buf.readUInt32BE(at + 4)) return undefined;
  try {
    decodeBatch(payload, 'candidate record');
  } catch {
    return undefined;
  }
  return { at, end, index };
}

/**
 * The first intact batch record after the damaged record at `damagedAt`, which should have
 * held index `lastIndex + 1`: evidence that the damage is not simply a torn end of the log.
 *
 * The damaged record's length cannot be trusted, so every byte offset is tried, but only a
 * record that could really be next counts: it decodes completely, and its index is above
 * `lastIndex` by at most the number of records that fit between the two (so bytes inside a
 * value, which would carry an arbitrary index, almost never pass).
 *
 * A record whose claimed length runs past the end of the file is what a crash mid-append
 * leaves, and its claim is trusted: a "record" found inside the span it claims is part of
 * its own (cut off) payload, unless the payload up to there matches the CRC in its header,
 * which proves that the length field was what got damaged.
 */
export function findIntactBatch(
  buf: Buffer,
  damagedAt: number,
  lastIndex: number,
): IntactBatch | undefined {
  let claimedEnd = 0;
  if (buf.length - damagedAt >= FRAME_HEADER_BYTES) {
    const end = damagedAt + FRAME_HEADER_BYTES + buf.readUInt32BE(damagedAt);
    if (end > buf.length) claimedEnd = end;
  }
  for (let at = damagedAt + 1; at + FRAME_HEADER_BYTES < buf.length; at++) {
    const fit = Math.floor((at - damagedAt) / MIN_BATCH_RECORD_BYTES);
    const found = intactBatchAt(buf, at, lastIndex + 1, lastIndex + 1 + fit);
    if (!found) continue;
    if (at < claimedEnd && !wholeRecordUpTo(buf, damagedAt, at, lastIndex + 1)) continue;
    return found;
  }
  return undefined;
}

/** Whether `at`..`end` is an intact record of index `index`, but for its length field. */
function wholeRecordUpTo(buf: Buffer, at: number, end: number, index: number): boolean {
  const payload = buf.subarray(at + FRAME_HEADER_BYTES, end);
  return (
    payload.length > 0 &&
    crc32(payload) === buf.readUInt32BE(at + 4) &&
    peekBatchIndex(payload) === index
  );
}

/** Throw a {@link CorruptDataError} naming the file and offset. */
export function corrupt(file: string, offset: number, problem: string): never {
  throw new CorruptDataError(`${file} at byte ${offset}: ${problem}`);
}

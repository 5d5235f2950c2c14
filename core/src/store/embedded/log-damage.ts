/**
 * Telling a torn end of the log, which recovery repairs, from damage to acknowledged records,
 * which it refuses to guess about.
 *
 * A write is acknowledged only after the fdatasync of its flush returns, and flushes never
 * overlap, so a crash can only damage the last flush: everything in it is unacknowledged and
 * may be dropped. What that damage can look like:
 *
 * - A process crash leaves a clean prefix of the flush: the last record is cut short.
 * - A power loss can also lose whole pages of the flush while keeping later ones (pages
 *   reach the disk in any order until the fdatasync completes). A lost page reads as zeros:
 *   the file system never exposes blocks that were not written. So zero-filled pages may be
 *   followed by intact records of the same flush.
 *
 * Damage that looks like neither (non-zero garbage or a zeroed span that is not a lost page,
 * with intact records after it, or records out of sequence) did not come from a crash, and
 * truncating there could drop acknowledged writes.
 */
import { FRAME_HEADER_BYTES, decodeBatch, findIntactBatch, readFrame } from './record-codec.ts';

/** Page cache granularity: a power loss loses whole pages (4 KiB, or multiples of it). */
const PAGE_BYTES = 4096;

export type DamageVerdict =
  /** Nothing intact after the damage: a record cut short by a crash. */
  | { kind: 'torn' }
  /** Only lost pages and intact, consecutive records up to the end: the unfinished flush. */
  | { kind: 'unflushed'; survivors: number }
  /** Intact records after damage no crash explains; `problem` says where and what. */
  | { kind: 'corrupt'; problem: string };

/**
 * Judge the damaged record at `offset` of a log held in `buf`, whose last intact record
 * before it has index `lastIndex`.
 */
export function judgeDamage(buf: Buffer, offset: number, lastIndex: number): DamageVerdict {
  let next = findIntactBatch(buf, offset, lastIndex);
  if (!next) return { kind: 'torn' };
  let gapAt = offset;
  let prev = lastIndex;
  let survivors = 0;
  for (;;) {
    if (!looksLikeLostPages(buf, gapAt, next.at)) {
      return {
        kind: 'corrupt',
        problem:
          `the damage at byte ${gapAt} is followed by an intact record ` +
          `(index ${next.index}) at byte ${next.at}`,
      };
    }
    if (next.index < prev + 2) {
      // A lost page takes at least the record that starts in it.
      return {
        kind: 'corrupt',
        problem:
          `zeros at byte ${gapAt} before an intact record (index ${next.index}) ` +
          `at byte ${next.at} held no lost record`,
      };
    }
    // The records after the gap must run on intact and in sequence.
    let pos = next.at;
    prev = next.index - 1;
    for (;;) {
      const f = readFrame(buf, pos);
      if (!f.ok) break;
      let index: number;
      try {
        index = decodeBatch(f.payload, `record at byte ${pos}`).index;
      } catch {
        return { kind: 'corrupt', problem: `the frame at byte ${pos} does not decode` };
      }
      if (index !== prev + 1) {
        return {
          kind: 'corrupt',
          problem: `the record at byte ${pos} has index ${index}, expected ${prev + 1}`,
        };
      }
      prev = index;
      survivors++;
      pos = f.end;
    }
    if (pos >= buf.length) return { kind: 'unflushed', survivors };
    gapAt = pos;
    next = findIntactBatch(buf, pos, prev);
    if (!next) return { kind: 'unflushed', survivors };
  }
}

/**
 * Whether the damaged bytes from `from` to `to` hold what a lost page leaves: zeros from
 * where the flush began writing (`from`, the damaged record's start) to a page boundary or
 * to `to`, or a whole page-aligned page of zeros. Bytes around it may be the kept halves of
 * records the lost page cut through.
 */
function looksLikeLostPages(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to;) {
    if (buf[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < to && buf[end] === 0) end++;
    if (i === from && end - from >= FRAME_HEADER_BYTES) {
      const pageEnd = (Math.floor(from / PAGE_BYTES) + 1) * PAGE_BYTES;
      if (end === to || end >= pageEnd) return true;
    }
    const pageStart = Math.ceil(i / PAGE_BYTES) * PAGE_BYTES;
    if (pageStart + PAGE_BYTES <= end) return true;
    i = end;
  }
  return false;
}

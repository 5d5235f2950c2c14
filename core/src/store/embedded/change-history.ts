/**
 * The recent committed batches a watch can resume from: a fixed-size ring, so memory stays
 * bounded however long the store runs. A watcher asking for anything older gets a resync.
 */
import type { ChangeBatch } from '../types.ts';

/** Batches kept by default: minutes of history at a busy control plane's write rate. */
export const DEFAULT_HISTORY_LIMIT = 10_000;

export class ChangeHistory {
  private readonly ring: (ChangeBatch | undefined)[];
  /** Ring position of the oldest retained batch. */
  private head = 0;
  private count = 0;
  private baseIndex: number;

  /**
   * @param limit most batches retained.
   * @param baseIndex the store index history starts after: changes up to and including it
   *   are not retained (the index at open time, since history is not persisted).
   */
  constructor(limit: number, baseIndex: number) {
    this.ring = new Array<ChangeBatch | undefined>(limit);
    this.baseIndex = baseIndex;
  }

  /** A watcher resuming after `fromIndex` can be served only if `fromIndex ≥ base`. */
  get base(): number {
    return this.baseIndex;
  }

  /** Index of the newest retained batch (`base` when empty). */
  get last(): number {
    return this.baseIndex + this.count;
  }

  /**
   * Append the next batch. Indexes are consecutive (every commit bumps the index by one and
   * produces one batch), which is what lets {@link since} find a position by arithmetic.
   */
  push(batch: ChangeBatch): void {
    if (batch.index !== this.last + 1) {
      throw new Error(`change history expects index ${this.last + 1}, got ${batch.index}`);
    }
    const capacity = this.ring.length;
    if (this.count === capacity) {
      this.ring[this.head] = batch;
      this.head = (this.head + 1) % capacity;
      this.baseIndex++;
    } else {
      this.ring[(this.head + this.count) % capacity] = batch;
      this.count++;
    }
  }

  /** Retained batches with an index greater than `fromIndex`, oldest first. */
  since(fromIndex: number): ChangeBatch[] {
    const skip = Math.max(0, fromIndex - this.baseIndex);
    const out: ChangeBatch[] = [];
    for (let i = skip; i < this.count; i++) {
      out.push(this.ring[(this.head + i) % this.ring.length]!);
    }
    return out;
  }
}

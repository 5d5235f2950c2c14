/**
 * The embedded store's in-memory table: a map for point reads beside a sorted key array for
 * prefix scans. A sorted array with binary search keeps `get` O(1), a prefix scan
 * O(log n + k), and an insert O(log n) plus one `splice` (a memmove, fast well past a
 * million keys), without the code weight of a balanced tree.
 */
import type { Entry } from '../types.ts';

/**
 * Order keys by their UTF-8 bytes (which is Unicode code point order), as Consul and the
 * Redis backend do. JavaScript's `<` compares UTF-16 code units, which disagrees only when
 * a surrogate (U+D800–U+DFFF, the halves of a code point above U+FFFF) meets a code unit in
 * U+E000–U+FFFF; shifting those two ranges past each other fixes that without re-encoding.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit <= 0xdfff ? unit + 0x2000 : unit - 0x800;
}

export class KeyIndex {
  private readonly keys: string[] = [];
  private readonly byKey = new Map<string, Entry>();

  /** Build from entries in any order (used once after recovery: one sort beats n splices). */
  static fromEntries(entries: Iterable<Entry>): KeyIndex {
    const index = new KeyIndex();
    for (const e of entries) index.byKey.set(e.key, e);
    index.keys.push(...index.byKey.keys());
    index.keys.sort(compareKeys);
    return index;
  }

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): Entry | undefined {
    return this.byKey.get(key);
  }

  /** Insert or replace. Stored entries are never mutated afterwards, only replaced. */
  set(entry: Entry): void {
    if (!this.byKey.has(entry.key)) this.keys.splice(this.lowerBound(entry.key), 0, entry.key);
    this.byKey.set(entry.key, entry);
  }

  /** Remove a key; returns whether it was there. */
  delete(key: string): boolean {
    if (!this.byKey.delete(key)) return false;
    this.keys.splice(this.lowerBound(key), 1);
    return true;
  }

  /** Keys starting with `prefix`, in key order. */
  keysWithPrefix(prefix: string): string[] {
    const out: string[] = [];
    for (let i = this.lowerBound(prefix); i < this.keys.length; i++) {
      const key = this.keys[i]!;
      if (!key.startsWith(prefix)) break;
      out.push(key);
    }
    return out;
  }

  /** Entries whose key starts with `prefix`, in key order. */
  entriesWithPrefix(prefix: string): Entry[] {
    return this.keysWithPrefix(prefix).map((k) => this.byKey.get(k)!);
  }

  /**
   * Every entry in key order. Cheap enough to call synchronously for a snapshot: it copies
   * references only, and the entries themselves are immutable.
   */
  allEntries(): Entry[] {
    return this.keys.map((k) => this.byKey.get(k)!);
  }

  /** First position whose key is ≥ `key`. */
  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.keys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Folder-style roll-up shared by every backend (Consul's `?keys&separator=`). */

export interface RolledUp<T> {
  items: T[];
  prefixes: string[];
}

/**
 * Keep the items directly under `prefix` and fold the rest into folder prefixes that end
 * at the first `separator` after `prefix`. `items` must be in key order; order is kept.
 */
export function rollUp<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  prefix: string,
  separator: string,
): RolledUp<T> {
  const out: T[] = [];
  const prefixes: string[] = [];
  let last: string | undefined;
  for (const item of items) {
    const key = keyOf(item);
    const cut = key.indexOf(separator, prefix.length);
    if (cut === -1) {
      out.push(item);
      continue;
    }
    const folder = key.slice(0, cut + separator.length);
    // Items arrive sorted, so a folder's keys are contiguous.
    if (folder !== last) {
      prefixes.push(folder);
      last = folder;
    }
  }
  return { items: out, prefixes };
}

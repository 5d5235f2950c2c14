/**
 * Every config entry at one store index, indexed by kind, namespace and name: what a
 * snapshot builder reads while it resolves a proxy's upstreams. One `list("config/")`
 * fills it, so a build never mixes entries from two points in time.
 */
import type { Store } from '../store/types.ts';
import { CONFIG_ENTRY_PREFIX, decodeStoredEntry } from './entry-store.ts';
import type { ConfigEntry, ConfigEntryKind, EntryOfKind } from './types.ts';

export class ConfigEntrySet {
  private readonly byKey = new Map<string, ConfigEntry>();

  constructor(
    entries: Iterable<ConfigEntry>,
    /** The store index the entries were read at (0 when built in memory). */
    readonly index = 0,
  ) {
    for (const e of entries) this.byKey.set(keyOf(e.Kind, e.Namespace, e.Name), e);
  }

  get<K extends ConfigEntryKind>(
    kind: K,
    namespace: string,
    name: string,
  ): EntryOfKind<K> | undefined {
    return this.byKey.get(keyOf(kind, namespace, name)) as EntryOfKind<K> | undefined;
  }

  /** Every entry, in a stable order (kind, namespace, name). */
  all(): ConfigEntry[] {
    return [...this.byKey.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, e]) => e);
  }
}

function keyOf(kind: string, namespace: string, name: string): string {
  return `${kind}\u0000${namespace}\u0000${name}`;
}

/** Read every entry at one index. Unreadable values are skipped by `onError` (or thrown). */
export async function readConfigEntrySet(
  store: Store,
  onError?: (key: string, err: unknown) => void,
): Promise<ConfigEntrySet> {
  const { entries, index } = await store.list(CONFIG_ENTRY_PREFIX);
  const decoded: ConfigEntry[] = [];
  for (const entry of entries) {
    try {
      const { CreateIndex: _c, ModifyIndex: _m, ...e } = decodeStoredEntry(entry);
      decoded.push(e);
    } catch (err) {
      if (!onError) throw err;
      onError(entry.key, err);
    }
  }
  return new ConfigEntrySet(decoded, index);
}

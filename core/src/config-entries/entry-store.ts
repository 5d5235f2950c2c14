/**
 * Config entries in the store: one JSON value per entry under
 * `config/<kind>/<namespace>/<name>`, written with the store's check-and-set so that
 * Consul's `?cas=` maps onto the key's `modifyIndex` (0: only if absent). Values are the
 * normalised entry without indexes; reads add `CreateIndex` / `ModifyIndex` from the key.
 */
import { CorruptDataError } from '../errors.ts';
import type { Entry, Store } from '../store/types.ts';
import { decodeConfigEntry } from './decode.ts';
import type { ConfigEntry, ConfigEntryKind, EntryOfKind, StoredConfigEntry } from './types.ts';

export const CONFIG_ENTRY_PREFIX = 'config/';

export function configEntryKey(kind: ConfigEntryKind, namespace: string, name: string): string {
  return `${CONFIG_ENTRY_PREFIX}${kind}/${namespace}/${name}`;
}

/** Every entry of `kind`, or of `kind` in `namespace`. */
export function configEntryPrefix(kind: ConfigEntryKind, namespace?: string): string {
  return `${CONFIG_ENTRY_PREFIX}${kind}/${namespace === undefined ? '' : `${namespace}/`}`;
}

/** Decode a stored entry; a value that no longer passes validation is corrupt data. */
export function decodeStoredEntry(entry: Entry): StoredConfigEntry {
  let decoded: ConfigEntry;
  try {
    decoded = decodeConfigEntry(JSON.parse(entry.value.toString('utf8')));
  } catch (err) {
    throw new CorruptDataError(`config entry at ${entry.key} is unreadable: ${String(err)}`, err);
  }
  return { ...decoded, CreateIndex: entry.createIndex, ModifyIndex: entry.modifyIndex };
}

/**
 * Create or replace an entry. With `cas`, only if the stored entry's ModifyIndex is `cas`
 * (0: only if there is none). Answers whether it was written, as Consul's `true`/`false`.
 */
export async function writeConfigEntry(
  store: Store,
  entry: ConfigEntry,
  cas?: number,
): Promise<{ ok: boolean; index: number }> {
  const key = configEntryKey(entry.Kind, entry.Namespace, entry.Name);
  const put = await store.put(
    key,
    Buffer.from(JSON.stringify(entry)),
    cas === undefined ? {} : { cas },
  );
  return put.ok ? { ok: true, index: put.entry.modifyIndex } : { ok: false, index: 0 };
}

export async function readConfigEntry<K extends ConfigEntryKind>(
  store: Store,
  kind: K,
  namespace: string,
  name: string,
): Promise<(EntryOfKind<K> & { CreateIndex: number; ModifyIndex: number }) | null> {
  const entry = await store.get(configEntryKey(kind, namespace, name));
  return entry === null
    ? null
    : (decodeStoredEntry(entry) as EntryOfKind<K> & { CreateIndex: number; ModifyIndex: number });
}

/** Entries of one kind (in one namespace, or all), in key order, with the read's index. */
export async function listConfigEntries(
  store: Store,
  kind: ConfigEntryKind,
  namespace?: string,
): Promise<{ entries: StoredConfigEntry[]; index: number }> {
  const { entries, index } = await store.list(configEntryPrefix(kind, namespace));
  return { entries: entries.map(decodeStoredEntry), index };
}

/**
 * Delete an entry; with `cas`, only if its ModifyIndex matches. A CAS delete of a missing
 * entry answers false, as Consul's `DeleteConfigEntryCAS` does (the store's own delete-cas
 * counts a missing key as deleted; the entry API does not). Without `cas` a missing entry
 * is simply gone (true).
 */
export async function deleteConfigEntry(
  store: Store,
  kind: ConfigEntryKind,
  namespace: string,
  name: string,
  cas?: number,
): Promise<boolean> {
  const result = await store.delete(
    configEntryKey(kind, namespace, name),
    cas === undefined ? {} : { cas },
  );
  return cas === undefined ? result.ok : result.ok && result.deleted > 0;
}

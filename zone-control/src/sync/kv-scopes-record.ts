/**
 * What a federated zone remembers of global between restarts, so that with global down
 * it still knows which keys are global (and refuses to write them locally), and how old
 * its replica is: the global KV prefixes from the last welcome (`sync/kv-scopes`, a JSON
 * list) and when it last heard from global (`sync/last-contact`, ms since the epoch).
 */
import { KvScopes, validateGlobalKvPrefixes } from '../../../core/index.ts';
import type { Logger, Store } from '../../../core/index.ts';

export const KV_SCOPES_KEY = 'sync/kv-scopes';
export const LAST_CONTACT_KEY = 'sync/last-contact';

/** The prefixes stored at the last welcome, or undefined when none was ever stored. */
export async function loadKvScopes(store: Store, logger: Logger): Promise<KvScopes | undefined> {
  const entry = await store.get(KV_SCOPES_KEY);
  if (!entry) return undefined;
  try {
    return new KvScopes(
      validateGlobalKvPrefixes(JSON.parse(entry.value.toString()), KV_SCOPES_KEY),
    );
  } catch (err) {
    // The next welcome rewrites it; until then no key counts as global.
    logger.error(
      { key: KV_SCOPES_KEY, err: String(err) },
      'the stored global KV prefixes are unreadable; treating every key as a zone key until global is reached',
    );
    return undefined;
  }
}

export async function saveKvScopes(store: Store, scopes: KvScopes): Promise<void> {
  await store.put(KV_SCOPES_KEY, Buffer.from(JSON.stringify(scopes.globalPrefixes)));
}

export async function loadLastContact(store: Store): Promise<number | undefined> {
  const entry = await store.get(LAST_CONTACT_KEY);
  const at = entry ? Number(entry.value.toString()) : NaN;
  return Number.isSafeInteger(at) && at > 0 ? at : undefined;
}

export async function saveLastContact(store: Store, at: number): Promise<void> {
  await store.put(LAST_CONTACT_KEY, Buffer.from(String(at)));
}

/**
 * Listing under a KV prefix as a token sees it. Consul filters out the keys a token may
 * not read (rather than refusing the whole listing), folds keys at the separator only
 * after filtering, and says `X-Consul-Results-Filtered-By-ACLs: true` when it left some
 * out.
 */
import type { Context } from 'koa';
import { rollUp } from '../../../core/index.ts';
import type { Entry, Store } from '../../../core/index.ts';
import { allowAll, requireAccess } from '../acl/authorizer.ts';
import { stateOf } from '../http/api-context.ts';
import { consulKey, storeKey } from './kv-entry.ts';

export interface VisibleListing {
  /** Entries directly under the prefix (all of them without a separator). */
  entries: Entry[];
  /** Consul keys and folders (with a separator) in key order, as `?keys` answers them. */
  keys: string[];
  index: number;
}

/** Merge two lists of keys already in UTF-8 byte order. */
function mergeSorted(a: string[], b: string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as string;
    const y = b[j] as string;
    if (Buffer.compare(Buffer.from(x), Buffer.from(y)) <= 0) {
      out.push(x);
      i++;
    } else {
      out.push(y);
      j++;
    }
  }
  return out.concat(a.slice(i), b.slice(j));
}

export async function listVisible(
  ctx: Context,
  store: Store,
  prefix: string,
  separator: string,
): Promise<VisibleListing> {
  const { authz } = stateOf(ctx);
  const at = storeKey(prefix);
  let entries: Entry[];
  let folders: string[];
  let index: number;
  if (authz === allowAll) {
    // No filtering to do: let the store fold at the separator.
    const listing = await store.list(at, separator === '' ? {} : { separator });
    ({ entries, index } = listing);
    folders = listing.prefixes;
  } else {
    const listing = await store.list(at);
    index = listing.index;
    const visible = listing.entries.filter((e) => authz.allows('key', consulKey(e.key), 'read'));
    if (visible.length < listing.entries.length) {
      ctx.set('X-Consul-Results-Filtered-By-ACLs', 'true');
    }
    const folded =
      separator === ''
        ? { items: visible, prefixes: [] }
        : rollUp(visible, (e) => e.key, at, separator);
    entries = folded.items;
    folders = folded.prefixes;
  }
  const keys = mergeSorted(
    entries.map((e) => consulKey(e.key)),
    folders.map(consulKey),
  );
  return { entries, keys, index };
}

/**
 * Refuse a recursive delete unless the token may write the prefix and every key now under
 * it. Consul asks its ACL engine whether any rule below the prefix denies writes
 * (`KeyWritePrefix`); our authorizer answers per name, so we ask for each existing key —
 * a key denied by a rule (`key "app/secret" { policy = "deny" }`) is never swept away by
 * a delete of `app/`.
 */
export async function requireTreeWrite(ctx: Context, store: Store, prefix: string): Promise<void> {
  const { authz } = stateOf(ctx);
  requireAccess(authz, 'key', prefix, 'write');
  if (authz === allowAll) return;
  const { entries } = await store.list(storeKey(prefix));
  for (const e of entries) requireAccess(authz, 'key', consulKey(e.key), 'write');
}

/**
 * Global KV as zones receive it: every entry under the global prefixes as a `kv` resource
 * (named `kvResourceName(key)`), followed in the store by one watch on `kv/`.
 */
import { kvResourceName } from '../../../core/index.ts';
import type { KvResource, KvScopes, Logger, Store } from '../../../core/index.ts';
import { StoreResourceIndex } from '../sync/store-resource-index.ts';
import { GLOBAL_KV_STORE_PREFIX } from './global-kv.ts';

export class GlobalKvIndex extends StoreResourceIndex<KvResource> {
  constructor(store: Store, scopes: KvScopes, logger: Logger, debounceMs?: number) {
    const keyOf = (storeKey: string): string => storeKey.slice(GLOBAL_KV_STORE_PREFIX.length);
    super(
      store,
      {
        prefix: GLOBAL_KV_STORE_PREFIX,
        resource(entry) {
          const key = keyOf(entry.key);
          // A key left from a prefix that is no longer global is no zone's business.
          if (scopes.globalPrefixOf(key) === undefined) return undefined;
          return {
            name: kvResourceName(key),
            body: {
              key,
              value: entry.value.toString('base64'),
              flags: entry.flags,
              modifyIndex: entry.modifyIndex,
            },
          };
        },
        nameOf: (storeKey) => kvResourceName(keyOf(storeKey)),
      },
      logger,
      debounceMs,
    );
  }
}

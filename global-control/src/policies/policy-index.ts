/**
 * Global policies as zones receive them: every stored entry of a policy kind as a `policy`
 * resource named `<kind>/<namespace>/<name>` (its key under `config/`), followed in the
 * store by one watch on `config/`.
 */
import {
  CONFIG_ENTRY_PREFIX,
  GLOBAL_POLICY_KINDS,
  decodeStoredEntry,
  policyResourceName,
} from '../../../core/index.ts';
import type { Logger, PolicyResource, Store } from '../../../core/index.ts';
import { StoreResourceIndex } from '../sync/store-resource-index.ts';

export class GlobalPolicyIndex extends StoreResourceIndex<PolicyResource> {
  constructor(store: Store, logger: Logger, debounceMs?: number) {
    super(
      store,
      {
        prefix: CONFIG_ENTRY_PREFIX,
        resource(stored) {
          let decoded;
          try {
            decoded = decodeStoredEntry(stored);
          } catch (err) {
            // Written through the API, so this is damage: leave it out rather than make
            // every zone refuse the whole set.
            logger.error({ key: stored.key, err: String(err) }, 'skipping an unreadable policy');
            return undefined;
          }
          // Zones apply the entry itself; the indexes are this store's, not theirs.
          const { CreateIndex: _created, ModifyIndex: _modified, ...entry } = decoded;
          if (!(GLOBAL_POLICY_KINDS as readonly string[]).includes(entry.Kind)) return undefined;
          return {
            name: policyResourceName(entry.Kind, entry.Namespace, entry.Name),
            body: { kind: entry.Kind, namespace: entry.Namespace, name: entry.Name, entry },
          };
        },
        nameOf: (key) => key.slice(CONFIG_ENTRY_PREFIX.length),
      },
      logger,
      debounceMs,
    );
  }
}

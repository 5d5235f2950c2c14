/**
 * The behaviour every `Store` backend must show, as one mocha suite each backend runs
 * against itself (`describeStoreContract('embedded', harness)`). The semantics follow
 * Consul's KV store; see core/src/store/types.ts for the contract in prose.
 *
 * A backend author can read the whole contract in the order below: one file a topic, each
 * given the same context (context.ts).
 */
import { describeClose } from './close.ts';
import { contractContext } from './context.ts';
import type { StoreHarness } from './context.ts';
import { describeDelete } from './delete.ts';
import { describeIndexesAndCas } from './indexes-and-cas.ts';
import { describeKeysAndValues } from './keys-and-values.ts';
import { describeList } from './list.ts';
import { describeSessions } from './sessions.ts';
import { describeTransactions } from './txn.ts';
import { describeWatch } from './watch.ts';

export type { StoreHarness };

export function describeStoreContract(name: string, harness: StoreHarness): void {
  describe(`store contract: ${name}`, function () {
    const ctx = contractContext(harness);
    describeKeysAndValues(ctx);
    describeIndexesAndCas(ctx);
    describeSessions(ctx);
    describeList(ctx);
    describeDelete(ctx);
    describeTransactions(ctx);
    describeClose(ctx);
    describeWatch(ctx);
  });
}

/** Zone sync deltas for tests that feed an inbox directly. */
import type { DeltaMessage, ResourceType } from '../../core/index.ts';

let sent = 0;

/**
 * A one-chunk delta of `resourceType`: a full set with a fresh nonce and revision unless
 * `over` says otherwise.
 */
export function syncDelta<T extends ResourceType>(
  resourceType: T,
  over: Partial<DeltaMessage<T>> = {},
): DeltaMessage {
  sent++;
  return {
    type: 'delta',
    resourceType,
    nonce: `n${sent}`,
    revision: `r.${sent}`,
    baseRevision: '',
    full: true,
    retain: [],
    more: false,
    chunk: 0,
    upserts: [],
    removes: [],
    ...over,
  };
}

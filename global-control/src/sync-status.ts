/**
 * The sync status source the API uses until a sync server is attached: nothing is known,
 * so every zone shows offline.
 */
import type { SyncStatusSource } from '../../core/index.ts';

export const NO_SYNC_STATUS: SyncStatusSource = { status: () => undefined };

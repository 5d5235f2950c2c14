/**
 * What the zone's KV and transaction endpoints need to know about global KV (see
 * `core/src/federation/kv-scopes.ts`): which keys are global, how fresh this zone's
 * read-only replica of them is, and a way to hand a write of a global key to the global
 * control plane. A federated zone's sync client provides it; a standalone zone has
 * {@link STANDALONE_KV}, where every key is the zone's, exactly as before federation.
 */
import { KvScopes, ServiceUnavailableError } from '../../../core/index.ts';
import type { KvWriteOp, KvWrittenMessage } from '../../../core/index.ts';
import { LOCAL_CONTACT } from '../http/blocking.ts';
import type { ReadContact } from '../http/blocking.ts';

/** Why a write could not be handed to global, or its answer never came. */
export type ForwardFailure = 'unreachable' | 'timeout' | 'lost';

/**
 * A write of a global key that did not get an answer from global (503). The KV endpoint
 * rewrites the message to name the key and its prefix (see `global-kv-errors.ts`).
 */
export class KvForwardError extends ServiceUnavailableError {
  constructor(
    readonly reason: ForwardFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface GlobalKv {
  /** The global prefixes as this zone knows them (persisted, so known with global down). */
  scopes(): Promise<KvScopes>;
  /** How fresh the replica is: the read headers of global keys. */
  contact(): ReadContact;
  /**
   * Send a write to global and resolve with its answer. Rejects with a
   * {@link KvForwardError}: `unreachable` when the sync connection is down (nothing was
   * sent), `timeout` or `lost` when global did not answer (the write may have applied).
   */
  forward(op: KvWriteOp): Promise<KvWrittenMessage>;
}

/** A zone that has not joined a global control plane: every key is its own. */
export const STANDALONE_KV: GlobalKv = {
  scopes: () => Promise.resolve(KvScopes.standalone),
  contact: () => LOCAL_CONTACT,
  forward: () =>
    Promise.reject(
      new KvForwardError('unreachable', 'this zone is not federated: it has no global KV'),
    ),
};

/**
 * `PUT /v1/txn`: Consul's transaction endpoint for KV operations. Every op applies or
 * none does: 200 with `{"Results": [...], "Errors": null}`, or 409 with
 * `{"Results": null, "Errors": [{"OpIndex", "What"}]}`. As in Consul, ACL and lock-delay
 * problems are found before anything runs (and also answer 409), read-only transactions
 * carry `X-Consul-KnownLeader` / `X-Consul-LastContact`, and results the token may not
 * read are left out.
 *
 * In a federated zone a transaction reads global keys from the zone's replica but writes
 * zone keys only: a write verb on a global key (or a `delete-tree` reaching into a
 * global prefix) answers 409 naming the key and prefix, and nothing is written. A
 * transaction cannot be atomic across the zone's store and global's.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import {
  InvalidArgumentError,
  MAX_TXN_OPS,
  PermissionDeniedError,
  StoreUnavailableError,
  ValueTooLargeError,
} from '../../../core/index.ts';
import type { KvScopes, Store } from '../../../core/index.ts';
import { requireAccess } from '../acl/authorizer.ts';
import type { Access } from '../acl/authorizer.ts';
import type { ApiDeps } from '../http/api-context.ts';
import { stateOf } from '../http/api-context.ts';
import type { RouteModule } from '../http/app.ts';
import { LOCAL_CONTACT, setContactHeaders } from '../http/blocking.ts';
import { readRawBody } from '../http/body.ts';
import type { GlobalKv } from '../kv/global-kv.ts';
import { txnWritesGlobal } from '../kv/global-kv-errors.ts';
import { replyJson } from '../kv/consul-reply.ts';
import { storeKey } from '../kv/kv-entry.ts';
import { requireTreeWrite } from '../kv/kv-listing.ts';
import type { LockDelays } from '../session/lock-delay.ts';
import { lockDelaysFor } from '../session/lock-delay.ts';
import { MAX_CAS_ATTEMPTS, readStoredSession } from '../session/session-store.ts';
import { TxnTooLargeError, WRITE_VERBS, parseTxnBody } from './txn-parse.ts';
import type { KvOp } from './txn-parse.ts';
import { planTxn, preReadNeeds } from './txn-plan.ts';
import type { PreRead } from './txn-plan.ts';
import { collectErrors, collectResults } from './txn-results.ts';
import type { TxnError } from './txn-results.ts';

/** The body as JSON, with Consul's texts for an oversize or unparsable one. */
async function readOps(ctx: Context, limit: number): Promise<KvOp[]> {
  let raw: Buffer;
  try {
    raw = await readRawBody(ctx, limit);
  } catch (err) {
    if (!(err instanceof ValueTooLargeError)) throw err;
    const msg = `Request body too large, max size: ${limit} bytes`;
    throw new TxnTooLargeError(msg, err.size, limit, 'body');
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`Failed to parse body: ${(err as Error).message}`, 'body');
  }
  return parseTxnBody(body);
}

/** The permission each verb needs (Consul's `kvsPreApply`); reads are filtered instead. */
function accessFor(op: KvOp): Access | undefined {
  switch (op.verb) {
    case 'get':
    case 'get-tree':
    case 'get-or-empty':
      return undefined;
    case 'check-index':
    case 'check-session':
      return 'read';
    default:
      return 'write';
  }
}

/** The global prefixes a write op would touch (none for reads and zone keys). */
function globalsWritten(op: KvOp, scopes: KvScopes): string[] {
  if (!WRITE_VERBS.has(op.verb)) return [];
  const inside = scopes.globalPrefixOf(op.key);
  if (inside !== undefined) return [inside];
  return op.verb === 'delete-tree' ? scopes.globalPrefixesUnder(op.key) : [];
}

/** Writes of global keys, ACL and lock-delay problems, found before the transaction runs. */
async function precheck(
  ctx: Context,
  store: Store,
  ops: KvOp[],
  delays: LockDelays,
  now: number,
  scopes: KvScopes,
): Promise<TxnError[]> {
  const { authz } = stateOf(ctx);
  const errors: TxnError[] = [];
  for (const [i, op] of ops.entries()) {
    const globals = globalsWritten(op, scopes);
    if (globals.length > 0) {
      errors.push({ OpIndex: i, What: txnWritesGlobal(op.verb, op.key, globals) });
      continue;
    }
    const access = accessFor(op);
    try {
      if (op.verb === 'delete-tree') await requireTreeWrite(ctx, store, op.key);
      else if (access) requireAccess(authz, 'key', op.key, access);
    } catch (err) {
      if (!(err instanceof PermissionDeniedError)) throw err;
      errors.push({ OpIndex: i, What: err.message });
      continue;
    }
    if (op.verb === 'lock' && delays.blockedUntil(op.key, now) !== undefined) {
      errors.push({
        OpIndex: i,
        What: `failed to lock key ${JSON.stringify(op.key)} due to lock delay`,
      });
    }
  }
  return errors;
}

async function preRead(store: Store, ops: KvOp[]): Promise<PreRead> {
  const needs = preReadNeeds(ops);
  const keys = new Map(
    await Promise.all(needs.keys.map(async (k) => [k, await store.get(storeKey(k))] as const)),
  );
  const sessions = new Map(
    await Promise.all(
      needs.sessions.map(async (id) => [id, await readStoredSession(store, id)] as const),
    ),
  );
  return { keys, sessions };
}

/** Whether a read op can show global keys (for the replica's read headers). */
function readsGlobal(op: KvOp, scopes: KvScopes): boolean {
  return op.verb === 'get-tree'
    ? scopes.touchesGlobal(op.key)
    : scopes.scopeOf(op.key) === 'global';
}

/** The transaction route; `globalKv` says which keys are global (none in a standalone zone). */
export function txnRoutes(globalKv: GlobalKv): RouteModule {
  return (router: Router, deps: ApiDeps): void => {
    const { store } = deps;
    const delays = lockDelaysFor(store);

    router.put('/v1/txn', async (ctx) => {
      const ops = await readOps(ctx, deps.zone.maxBodyBytes);
      const { authz } = stateOf(ctx);
      const scopes = await globalKv.scopes();
      const refused = await precheck(ctx, store, ops, delays, Date.now(), scopes);
      if (refused.length > 0) {
        replyJson(ctx, { Results: null, Errors: refused }, 409);
        return;
      }
      if (!ops.some((op) => WRITE_VERBS.has(op.verb))) {
        // Consul answers read-only transactions like reads, without an index.
        const global = ops.some((op) => readsGlobal(op, scopes));
        setContactHeaders(ctx, global ? globalKv.contact() : LOCAL_CONTACT);
      }
      for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
        const plan = planTxn(ops, await preRead(store, ops));
        if (plan.ops.length > MAX_TXN_OPS) {
          throw new TxnTooLargeError(
            `Transaction needs ${plan.ops.length} store operations, more than ${MAX_TXN_OPS}: ` +
              'check-index, check-session, lock and unlock take two or three each; split it',
            plan.ops.length,
            MAX_TXN_OPS,
            'body',
          );
        }
        const result = await store.txn(plan.ops);
        if (result.ok) {
          replyJson(ctx, {
            Results: collectResults(ops, plan, result.results, authz),
            Errors: null,
          });
          return;
        }
        // A guard failed: a lock's key or session changed since it was read. Plan again.
        if (result.errors.some((e) => e.opIndex < plan.guards)) continue;
        const errors = await collectErrors(store, ops, plan, result.errors);
        replyJson(ctx, { Results: null, Errors: errors }, 409);
        return;
      }
      throw new StoreUnavailableError('transaction kept losing races for its locks; try again');
    });
  };
}

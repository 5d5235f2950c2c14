/**
 * `/v1/kv/<key>`: Consul's KV endpoint — GET (`recurse`, `keys`, `separator`, `raw`,
 * blocking), PUT (`flags`, `cas`, `acquire`, `release`; the raw body is the value) and
 * DELETE (`recurse`, `cas`). Behaviour and texts follow Consul's `kvs_endpoint.go`.
 *
 * In a federated zone, keys under a global prefix are a read-only replica of global's:
 * reads are served here (with the replica's age in `X-Consul-LastContact`), writes are
 * checked against the caller's token here and then made at global (`global-kv-write.ts`).
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidArgumentError, MAX_VALUE_BYTES, ValueTooLargeError } from '../../../core/index.ts';
import type { Store } from '../../../core/index.ts';
import { requireAccess, requireKeyWritePrefix } from '../acl/authorizer.ts';
import type { ApiDeps } from '../http/api-context.ts';
import { stateOf } from '../http/api-context.ts';
import type { RouteModule } from '../http/app.ts';
import {
  LOCAL_CONTACT,
  parseBlockingQuery,
  setConsulHeaders,
  waitForChange,
} from '../http/blocking.ts';
import type { ReadContact } from '../http/blocking.ts';
import { readRawBody } from '../http/body.ts';
import { lockDelaysFor } from '../session/lock-delay.ts';
import {
  hasParam,
  param,
  refuseConflicting,
  replyJson,
  replyNotFound,
  uintParam,
} from './consul-reply.ts';
import {
  keyFromPath,
  storeKey,
  toConsulEntry,
  validateConsulKey,
  validateConsulPrefix,
} from './kv-entry.ts';
import type { GlobalKv } from './global-kv.ts';
import { globalLockRefused, treeReachesGlobal } from './global-kv-errors.ts';
import { writeGlobalKey } from './global-kv-write.ts';
import { acquireLock, releaseLock } from './kv-lock.ts';
import { listVisible, requireTreeWrite } from './kv-listing.ts';

const KV_PATH = '/v1/kv{/*key}';

/** A KV value over 512 KiB, in Consul's words (`kv_max_value_size`). */
export class KvValueTooLargeError extends ValueTooLargeError {
  constructor(size: number, limit: number, exact: boolean) {
    super(size, limit, 'body');
    this.message =
      `Request body(${exact ? size : `more than ${limit}`} bytes) too large, max size: ${limit} bytes. ` +
      'See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.';
  }
}

async function readValue(ctx: Context): Promise<Buffer> {
  try {
    return await readRawBody(ctx, MAX_VALUE_BYTES, 'body');
  } catch (err) {
    if (!(err instanceof ValueTooLargeError)) throw err;
    throw new KvValueTooLargeError(err.size, err.limit, ctx.get('content-length') !== '');
  }
}

function missingKey(): InvalidArgumentError {
  return new InvalidArgumentError('Missing key name', 'key');
}

/** GET with `?keys`: key names, folded at `separator`; 404 when none under a non-empty prefix. */
async function getKeys(
  ctx: Context,
  store: Store,
  prefix: string,
  contact: () => ReadContact,
): Promise<void> {
  validateConsulPrefix(prefix);
  // Consul still honours its historic misspelling; the right spelling wins.
  const separator = param(ctx, 'separator') ?? param(ctx, 'seperator') ?? '';
  await waitForChange(
    store,
    { prefix: storeKey(prefix) },
    parseBlockingQuery(ctx),
    stateOf(ctx).signal,
  );
  const listing = await listVisible(ctx, store, prefix, separator);
  setConsulHeaders(ctx, listing.index, contact());
  if (listing.keys.length === 0 && prefix !== '') {
    replyNotFound(ctx);
    return;
  }
  replyJson(ctx, listing.keys);
}

/** GET with `?recurse`: every readable entry under the prefix; 404 when none. */
async function getTree(
  ctx: Context,
  store: Store,
  prefix: string,
  contact: () => ReadContact,
): Promise<void> {
  validateConsulPrefix(prefix);
  await waitForChange(
    store,
    { prefix: storeKey(prefix) },
    parseBlockingQuery(ctx),
    stateOf(ctx).signal,
  );
  const listing = await listVisible(ctx, store, prefix, '');
  setConsulHeaders(ctx, listing.index, contact());
  if (listing.entries.length === 0) {
    replyNotFound(ctx);
    return;
  }
  replyJson(
    ctx,
    listing.entries.map((e) => toConsulEntry(e)),
  );
}

/** GET of one key: `[entry]`, its raw value with `?raw`, or 404 with an empty body. */
async function getOne(
  ctx: Context,
  store: Store,
  key: string,
  contact: () => ReadContact,
): Promise<void> {
  if (key === '') throw missingKey();
  validateConsulKey(key);
  requireAccess(stateOf(ctx).authz, 'key', key, 'read');
  const target = { prefix: storeKey(key), exact: true };
  await waitForChange(store, target, parseBlockingQuery(ctx), stateOf(ctx).signal);
  // The index before the read: a write landing in between then wakes the next block.
  const index = await store.currentIndex();
  const entry = await store.get(storeKey(key));
  setConsulHeaders(ctx, Math.max(index, entry?.modifyIndex ?? 0), contact());
  if (!entry) {
    replyNotFound(ctx);
    return;
  }
  if (hasParam(ctx, 'raw')) {
    // As Consul: a fixed type and no sniffing, so a stored value cannot become a page.
    ctx.body = entry.value;
    ctx.set('Content-Type', 'text/plain');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Content-Security-Policy', 'sandbox');
    return;
  }
  replyJson(ctx, [toConsulEntry(entry)]);
}

/**
 * The KV routes. `globalKv` says which keys are global and carries their writes to global
 * (`STANDALONE_KV` in a zone that has not joined one: every key is the zone's).
 */
export function kvRoutes(globalKv: GlobalKv): RouteModule {
  return (router: Router, deps: ApiDeps): void => {
    const { store } = deps;
    const delays = lockDelaysFor(store);
    const writeContext = (ctx: Context) => ({
      store,
      link: globalKv,
      logger: deps.logger,
      signal: stateOf(ctx).signal,
    });
    /** The read headers: the replica's age when the read can show global keys. */
    const contactOf = (global: boolean) => (): ReadContact =>
      global ? globalKv.contact() : LOCAL_CONTACT;

    router.get(KV_PATH, async (ctx) => {
      const key = keyFromPath(ctx.path);
      const scopes = await globalKv.scopes();
      if (hasParam(ctx, 'keys')) {
        await getKeys(ctx, store, key, contactOf(scopes.touchesGlobal(key)));
      } else if (hasParam(ctx, 'recurse')) {
        await getTree(ctx, store, key, contactOf(scopes.touchesGlobal(key)));
      } else {
        await getOne(ctx, store, key, contactOf(scopes.scopeOf(key) === 'global'));
      }
    });

    router.put(KV_PATH, async (ctx) => {
      const key = keyFromPath(ctx.path);
      if (key === '') throw missingKey();
      validateConsulKey(key);
      refuseConflicting(ctx, 'cas', 'acquire', 'release');
      const flags = uintParam(ctx, 'flags');
      const cas = uintParam(ctx, 'cas');
      requireAccess(stateOf(ctx).authz, 'key', key, 'write');
      const globalPrefix = (await globalKv.scopes()).globalPrefixOf(key);
      const locking = hasParam(ctx, 'acquire') || hasParam(ctx, 'release');
      if (globalPrefix !== undefined && locking) throw globalLockRefused(key, globalPrefix);
      const value = await readValue(ctx);
      let ok: boolean;
      if (globalPrefix !== undefined) {
        ok = await writeGlobalKey(
          writeContext(ctx),
          { verb: 'set', key, value, flags: flags ?? 0, cas },
          globalPrefix,
        );
      } else if (hasParam(ctx, 'acquire')) {
        const session = param(ctx, 'acquire') ?? '';
        ok = await acquireLock(store, delays, { key, session, value, flags }, Date.now());
      } else if (hasParam(ctx, 'release')) {
        ok = await releaseLock(store, { key, session: param(ctx, 'release') ?? '', value, flags });
      } else {
        const put = await store.put(storeKey(key), value, { flags: flags ?? 0, cas });
        ok = put.ok;
      }
      replyJson(ctx, ok);
    });

    router.del(KV_PATH, async (ctx) => {
      const key = keyFromPath(ctx.path);
      refuseConflicting(ctx, 'recurse', 'cas');
      const { authz } = stateOf(ctx);
      const scopes = await globalKv.scopes();
      if (hasParam(ctx, 'recurse')) {
        validateConsulPrefix(key);
        const globalPrefix = scopes.globalPrefixOf(key);
        if (globalPrefix !== undefined) {
          // Global deletes its own tree, which may hold keys this zone's replica does not
          // have yet: decide on the token's rules, as Consul's KeyWritePrefix does, not on
          // the keys seen here.
          requireKeyWritePrefix(authz, key);
          const ok = await writeGlobalKey(
            writeContext(ctx),
            { verb: 'delete-tree', key },
            globalPrefix,
          );
          replyJson(ctx, ok);
          return;
        }
        await requireTreeWrite(ctx, store, key);
        // A tree that holds global prefixes would delete zone keys here and not the global
        // ones: refuse it whole rather than do half of it.
        const reached = scopes.globalPrefixesUnder(key);
        if (reached.length > 0) throw treeReachesGlobal(key, reached);
        await store.delete(storeKey(key), { recurse: true });
        replyJson(ctx, true);
        return;
      }
      if (key === '') throw missingKey();
      validateConsulKey(key);
      const cas = uintParam(ctx, 'cas');
      requireAccess(authz, 'key', key, 'write');
      const globalPrefix = scopes.globalPrefixOf(key);
      if (globalPrefix !== undefined) {
        replyJson(
          ctx,
          await writeGlobalKey(writeContext(ctx), { verb: 'delete', key, cas }, globalPrefix),
        );
        return;
      }
      const result = await store.delete(storeKey(key), { cas });
      // Only a check-and-set delete can answer false.
      replyJson(ctx, cas === undefined ? true : result.ok);
    });
  };
}

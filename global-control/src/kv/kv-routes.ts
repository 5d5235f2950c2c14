/**
 * `/api/kv/<key>`: global KV on the global's HTTP API (admin token, like every `/api`
 * route). Only keys under the global prefixes: any other key is refused with 400 naming
 * the prefixes, since it belongs to a zone.
 *
 * - `GET` one entry `{key, value (base64), flags, createIndex, modifyIndex}` (404 when
 *   absent); `?recurse` every entry under the prefix, `?keys` their keys (`[]` when none).
 * - `PUT` the raw body as the value (at most 512 KiB, else 413); `?flags=`, `?cas=`.
 * - `DELETE` one key; `?cas=` only if its ModifyIndex matches; `?recurse` the tree under a
 *   prefix that lies inside one global prefix.
 *
 * Writes answer `{ok, index}`: `ok` false only when a check-and-set did not hold, `index`
 * the global store index of the write (the same write function answers zones' `kv-write`).
 * Reads carry `X-Causeway-Index`. Other query parameters are ignored.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidArgumentError, MAX_VALUE_BYTES, NotFoundError } from '../../../core/index.ts';
import type { Entry, KvWriteOp } from '../../../core/index.ts';
import type { GlobalApiDeps } from '../http/app.ts';
import { readBodyBytes } from '../http/body.ts';
import { checkKvKey } from './global-kv.ts';

const KV_PATH = '/api/kv{/*key}';

/** A global KV entry as the API answers it. */
export interface GlobalKvEntry {
  key: string;
  /** base64 */
  value: string;
  flags: number;
  createIndex: number;
  modifyIndex: number;
}

function view(entry: Entry): GlobalKvEntry {
  return {
    key: entry.key,
    value: entry.value.toString('base64'),
    flags: entry.flags,
    createIndex: entry.createIndex,
    modifyIndex: entry.modifyIndex,
  };
}

/** The key of a `/api/kv/...` path, URL-decoded (`/` inside a key may come as `%2F`). */
function keyFromPath(path: string): string {
  let raw = path.slice('/api/kv'.length);
  if (raw.startsWith('/')) raw = raw.slice(1);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidArgumentError(`the key has a bad URL escape: ${JSON.stringify(raw)}`, 'key');
  }
}

function requireKey(key: string, method: string): string {
  if (key === '') {
    throw new InvalidArgumentError(
      `a key is required: ${method} /api/kv/<key>${method === 'PUT' ? '' : ' (or ?recurse)'}`,
      'key',
    );
  }
  return checkKvKey(key, 'key');
}

function hasParam(ctx: Context, name: string): boolean {
  return ctx.query[name] !== undefined;
}

/** An unsigned integer query parameter (`flags`, `cas`); the last one given wins. */
function uintParam(ctx: Context, name: string): number | undefined {
  const v = ctx.query[name];
  if (v === undefined) return undefined;
  const raw = (Array.isArray(v) ? v[v.length - 1] : v) ?? '';
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(
      `${name} must be an integer from 0 to 2^53-1, not ${JSON.stringify(raw)}`,
      name,
    );
  }
  return n;
}

/** The raw body: refused with 413 past 512 KiB, before it is buffered whole. */
function readValue(ctx: Context): Promise<Buffer> {
  return readBodyBytes(ctx, MAX_VALUE_BYTES, 'value');
}

export function kvRoutes(router: Router, deps: GlobalApiDeps): void {
  const { kv, store } = deps;

  router.get(KV_PATH, async (ctx) => {
    const key = keyFromPath(ctx.path);
    if (hasParam(ctx, 'recurse') || hasParam(ctx, 'keys')) {
      checkKvKey(key, 'key', true);
      kv.requireGlobalListing(key, 'key');
      const { entries, index } = await kv.list(key);
      ctx.set('X-Causeway-Index', String(index));
      ctx.body = hasParam(ctx, 'keys') ? entries.map((e) => e.key) : entries.map(view);
      return;
    }
    requireKey(key, 'GET');
    kv.requireGlobalKey(key, 'key');
    // The index before the read: the entry is at least this fresh.
    const index = await store.currentIndex();
    const entry = await kv.get(key);
    if (!entry) throw new NotFoundError(`no global KV entry ${JSON.stringify(key)}`, 'key');
    ctx.set('X-Causeway-Index', String(Math.max(index, entry.modifyIndex)));
    ctx.body = view({ ...entry, key });
  });

  router.put(KV_PATH, async (ctx) => {
    const key = requireKey(keyFromPath(ctx.path), 'PUT');
    const flags = uintParam(ctx, 'flags') ?? 0;
    const cas = uintParam(ctx, 'cas');
    // Refuse a key outside the global prefixes before reading up to 512 KiB of value.
    kv.requireGlobalKey(key, 'key');
    const value = (await readValue(ctx)).toString('base64');
    const op: KvWriteOp =
      cas === undefined
        ? { verb: 'set', key, value, flags }
        : { verb: 'cas', key, value, flags, index: cas };
    ctx.body = await kv.write(op, 'key');
  });

  router.del(KV_PATH, async (ctx) => {
    const key = keyFromPath(ctx.path);
    const cas = uintParam(ctx, 'cas');
    let op: KvWriteOp;
    if (hasParam(ctx, 'recurse')) {
      if (cas !== undefined) {
        throw new InvalidArgumentError(
          'cas cannot be combined with recurse: a check-and-set deletes one key',
          'cas',
        );
      }
      op = { verb: 'delete-tree', key: checkKvKey(key, 'key', true) };
    } else {
      requireKey(key, 'DELETE');
      op = cas === undefined ? { verb: 'delete', key } : { verb: 'delete-cas', key, index: cas };
    }
    ctx.body = await kv.write(op, 'key');
  });
}

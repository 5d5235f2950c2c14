/**
 * Small pieces of Consul's HTTP conventions shared by the KV, session and txn endpoints:
 * JSON answers, query flags that count by presence (`?recurse` is on even as
 * `?recurse=false`, as Go's `params["recurse"]` sees it), and unsigned integer parameters.
 */
import type { Context } from 'koa';
import { InvalidArgumentError } from '../../../core/index.ts';

/** Answer `value` as JSON with Consul's content type. */
export function replyJson(ctx: Context, value: unknown, status = 200): void {
  ctx.status = status;
  ctx.body = JSON.stringify(value);
  // Exactly Consul's header: koa's `ctx.type` would add a charset.
  ctx.set('Content-Type', 'application/json');
}

/** Consul's "not found" for KV reads: 404 and no body at all. */
export function replyNotFound(ctx: Context): void {
  // Body first: koa turns a null body into 204 unless the status is set after it.
  ctx.body = null;
  ctx.status = 404;
}

/** Whether the query names `name` at all, with or without a value. */
export function hasParam(ctx: Context, name: string): boolean {
  return ctx.query[name] !== undefined;
}

/** The last value given for `name` (`""` for a bare `?name`). */
export function param(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/**
 * An unsigned integer parameter (`flags`, `cas`). Consul parses these with
 * `strconv.ParseUint(…, 10, 64)`; the store keeps integers up to 2^53 − 1, and a larger
 * one is refused rather than rounded.
 */
export function uintParam(ctx: Context, name: string): number | undefined {
  if (!hasParam(ctx, name)) return undefined;
  const raw = param(ctx, name) ?? '';
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(
      `Invalid ${name} value ${JSON.stringify(raw)}: must be an integer from 0 to 2^53-1`,
      name,
    );
  }
  return n;
}

/**
 * Consul refuses options that cannot be combined (`cas` with `acquire`, `recurse` with
 * `cas`) with `Conflicting flags: <the query, keys sorted>`, as Go's `url.Values.Encode`.
 */
export function refuseConflicting(ctx: Context, ...names: string[]): void {
  if (names.filter((n) => hasParam(ctx, n)).length < 2) return;
  const encoded = Object.keys(ctx.query)
    .sort()
    .flatMap((k) => {
      const v = ctx.query[k];
      const values = Array.isArray(v) ? v : [v ?? ''];
      return values.map((x) => `${encodeURIComponent(k)}=${encodeURIComponent(x)}`);
    })
    .join('&');
  throw new InvalidArgumentError(`Conflicting flags: ${encoded}`, names.join(','));
}

/**
 * Consul blocking queries: `?index=N&wait=D` holds a read until something it covers
 * changes after index N, or until the wait (default 5m, max 10m, plus up to wait/16 of
 * jitter, as Consul does so that many clients do not wake in step) runs out.
 *
 * Causeway's store index is store-wide, but the wait is on a store watch of the read's own
 * prefix or key, so a write elsewhere never wakes a blocked reader. The index answered in
 * `X-Consul-Index` is the store index at read time: monotonic, and at least the index of
 * any change the read reflects.
 */
import type { Context } from 'koa';
import { InvalidArgumentError } from '../../../core/index.ts';
import type { Store } from '../../../core/index.ts';
import { parseGoDuration } from './go-duration.ts';

export const DEFAULT_WAIT_MS = 5 * 60_000;
export const MAX_WAIT_MS = 10 * 60_000;

export interface BlockingQuery {
  /** 0: answer at once. */
  index: number;
  waitMs: number;
  /** `?stale` — any server may answer; accepted (every zone server reads its own store). */
  stale: boolean;
  /** `?consistent` — accepted; reads are always from the authoritative store. */
  consistent: boolean;
}

/** What a blocked read waits on: everything under a prefix, or one exact key. */
export interface WatchTarget {
  prefix: string;
  exact?: boolean;
}

function queryValue(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** Read `index`, `wait`, `stale`, `consistent`; bad values are a 400 naming the parameter. */
export function parseBlockingQuery(ctx: Context): BlockingQuery {
  const rawIndex = queryValue(ctx, 'index');
  let index = 0;
  if (rawIndex !== undefined && rawIndex !== '') {
    if (!/^\d+$/.test(rawIndex) || !Number.isSafeInteger(Number(rawIndex))) {
      throw new InvalidArgumentError(`Invalid index: "${rawIndex}"`, 'index');
    }
    index = Number(rawIndex);
  }
  const rawWait = queryValue(ctx, 'wait');
  let waitMs = DEFAULT_WAIT_MS;
  if (rawWait !== undefined && rawWait !== '') {
    const parsed = parseGoDuration(rawWait);
    if (parsed === undefined || parsed < 0) {
      throw new InvalidArgumentError(`Invalid wait time: "${rawWait}"`, 'wait');
    }
    waitMs = Math.min(parsed, MAX_WAIT_MS);
  }
  return {
    index,
    waitMs,
    stale: ctx.query.stale !== undefined,
    consistent: ctx.query.consistent !== undefined,
  };
}

/**
 * Hold until a change under `target` with an index above `query.index`, the wait runs out,
 * or `signal` aborts (client gone, server stopping). Returns at once for index 0. A watch
 * that must resync (index too old, or from another store) also returns at once: answering
 * early is always allowed to a blocking query.
 */
export async function waitForChange(
  store: Store,
  target: WatchTarget,
  query: BlockingQuery,
  signal?: AbortSignal,
): Promise<void> {
  if (query.index === 0 || query.waitMs === 0) return;
  const ac = new AbortController();
  const jitter = Math.random() * (query.waitMs / 16);
  const timer = setTimeout(() => ac.abort(), query.waitMs + jitter);
  const onAbort = (): void => ac.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) ac.abort();
  try {
    const events = store.watch(target.prefix, query.index, {
      exact: target.exact ?? false,
      signal: ac.signal,
    });
    // The first event — a change or a resync — ends the wait.
    await events.next();
    await events.return?.();
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    ac.abort();
  }
}

/**
 * How fresh the data of a read is. Data this zone owns is always current
 * ({@link LOCAL_CONTACT}); a replica of global data is as fresh as the zone's last frame
 * from global, and has no "leader" while the sync connection is down.
 */
export interface ReadContact {
  knownLeader: boolean;
  lastContactMs: number;
}

export const LOCAL_CONTACT: ReadContact = { knownLeader: true, lastContactMs: 0 };

/** Consul's read headers. */
export function setConsulHeaders(ctx: Context, index: number, contact = LOCAL_CONTACT): void {
  // Consul never answers index 0: clients treat 0 as "do not block".
  ctx.set('X-Consul-Index', String(Math.max(index, 1)));
  setContactHeaders(ctx, contact);
}

/** `X-Consul-KnownLeader` and `X-Consul-LastContact` alone (read-only transactions). */
export function setContactHeaders(ctx: Context, contact = LOCAL_CONTACT): void {
  ctx.set('X-Consul-KnownLeader', String(contact.knownLeader));
  ctx.set('X-Consul-LastContact', String(Math.max(0, Math.round(contact.lastContactMs))));
}

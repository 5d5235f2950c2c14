/**
 * What every catalog, health and agent read does: honour a blocking query on `catalog/`,
 * read the catalog at one index, and answer Consul's headers. Also the ACL filters reads
 * share: a list leaves out what the token may not read (and says so in
 * `X-Consul-Results-Filtered-By-ACLs`, as Consul does) rather than failing.
 */
import type { Context } from 'koa';
import { CATALOG_PREFIX } from '../../../core/src/catalog/keys.ts';
import { readCatalog } from '../../../core/src/catalog/snapshot.ts';
import type { CatalogSnapshot } from '../../../core/src/catalog/snapshot.ts';
import type { HealthCheck, ServiceInstance } from '../../../core/src/catalog/types.ts';
import { stateOf } from '../http/api-context.ts';
import type { ApiDeps } from '../http/api-context.ts';
import { parseBlockingQuery, setConsulHeaders, waitForChange } from '../http/blocking.ts';

/**
 * Wait as a blocking query asks (any catalog write after `?index` wakes it), then read.
 * The whole `catalog/` prefix is watched: instances of one service live under every node,
 * so no narrower prefix covers a service's records.
 */
export async function blockingCatalogRead(ctx: Context, deps: ApiDeps): Promise<CatalogSnapshot> {
  const query = parseBlockingQuery(ctx);
  await waitForChange(deps.store, { prefix: CATALOG_PREFIX }, query, stateOf(ctx).signal);
  const snapshot = await readCatalog(deps.store);
  setConsulHeaders(ctx, snapshot.index);
  return snapshot;
}

/** Keep the items `allowed` passes; mark the reply when any were left out. */
export function filterByAcl<T>(ctx: Context, items: T[], allowed: (item: T) => boolean): T[] {
  const kept = items.filter(allowed);
  if (kept.length !== items.length) ctx.set('X-Consul-Results-Filtered-By-ACLs', 'true');
  return kept;
}

/** May the request's token read this check: its service's, or its node's for node checks. */
export function canReadCheck(
  ctx: Context,
  check: HealthCheck,
  instance: ServiceInstance | undefined,
): boolean {
  const { authz } = stateOf(ctx);
  if (check.serviceId === '') return authz.allows('node', check.node, 'read');
  return authz.allows('service', instance?.service ?? check.serviceName, 'read');
}

/** A path parameter, or undefined when it is missing or empty. */
export function pathParam(ctx: Context, name: string): string | undefined {
  const params = (ctx as Context & { params?: Record<string, string | undefined> }).params;
  const v = params?.[name];
  return v === undefined || v === '' ? undefined : v;
}

/** The last value of a query parameter. */
export function queryValue(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** Every value of a repeatable query parameter (`?tag=a&tag=b`). */
export function queryValues(ctx: Context, name: string): string[] | undefined {
  const v = ctx.query[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v : [v];
}

/** Has every tag in `wanted` (Consul's `?tag`, repeatable). */
export function hasTags(tags: readonly string[], wanted: readonly string[] | undefined): boolean {
  return wanted === undefined || wanted.every((t) => tags.includes(t));
}

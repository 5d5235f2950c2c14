/**
 * `/v1/health/*`: a service's instances with their node and checks (`?passing`, `?tag`), a
 * service's checks, a node's checks, and every check in a state — Consul's shapes from
 * `agent/health_endpoint.go`, blocking on any catalog change, so a check status change
 * wakes a blocked health query.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidArgumentError } from '../../../core/index.ts';
import type { CatalogSnapshot } from '../../../core/src/catalog/snapshot.ts';
import { HEALTH_STATUSES } from '../../../core/src/catalog/types.ts';
import type { HealthCheck, HealthStatus, Stored } from '../../../core/src/catalog/types.ts';
import { requireAccess } from '../acl/authorizer.ts';
import { stateOf } from '../http/api-context.ts';
import type { ApiDeps } from '../http/api-context.ts';
import {
  blockingCatalogRead,
  canReadCheck,
  filterByAcl,
  hasTags,
  pathParam,
  queryValues,
} from '../catalog/catalog-read.ts';
import { consulCheck, consulNode, consulNodeService } from '../catalog/consul-encode.ts';
import { queryFlag } from '../catalog/consul-json.ts';

const STATES = ['any', ...HEALTH_STATUSES] as const;

/** Checks in Consul's shape, leaving out those the token may not read. */
function readableChecks(ctx: Context, catalog: CatalogSnapshot, checks: Stored<HealthCheck>[]) {
  const withInstance = checks.map((c) => ({
    check: c,
    instance: c.serviceId === '' ? undefined : catalog.instance(c.node, c.serviceId),
  }));
  return filterByAcl(ctx, withInstance, ({ check, instance }) =>
    canReadCheck(ctx, check, instance),
  ).map(({ check, instance }) => consulCheck(check, instance));
}

function missing(what: string, field: string): () => never {
  return () => {
    throw new InvalidArgumentError(`Missing ${what}`, field);
  };
}

export function healthRoutes(router: Router, deps: ApiDeps): void {
  const dc = deps.zone.name;

  router.get('/v1/health/service', missing('service name', 'service'));
  router.get('/v1/health/service/:service', async (ctx) => {
    const name = pathParam(ctx, 'service') ?? '';
    const passingOnly = queryFlag(ctx.query.passing, 'passing');
    const tags = queryValues(ctx, 'tag');
    const { authz } = stateOf(ctx);
    requireAccess(authz, 'service', name, 'read');
    const catalog = await blockingCatalogRead(ctx, deps);
    const entries = catalog
      .health(name)
      .filter((e) => hasTags(e.instance.tags, tags))
      // Consul's ?passing drops an instance when any of its checks (its node's included)
      // is not passing, warning too.
      .filter((e) => !passingOnly || e.checks.every((c) => c.status === 'passing'));
    ctx.body = filterByAcl(ctx, entries, (e) => authz.allows('node', e.node.name, 'read')).map(
      (e) => ({
        Node: consulNode(e.node, dc),
        Service: consulNodeService(e.instance),
        Checks: e.checks.map((c) => consulCheck(c, c.serviceId === '' ? undefined : e.instance)),
      }),
    );
  });

  router.get('/v1/health/checks', missing('service name', 'service'));
  router.get('/v1/health/checks/:service', async (ctx) => {
    const name = pathParam(ctx, 'service') ?? '';
    requireAccess(stateOf(ctx).authz, 'service', name, 'read');
    const catalog = await blockingCatalogRead(ctx, deps);
    ctx.body = readableChecks(ctx, catalog, catalog.checksOfService(name));
  });

  router.get('/v1/health/node', missing('node name', 'node'));
  router.get('/v1/health/node/:node', async (ctx) => {
    const name = pathParam(ctx, 'node') ?? '';
    const catalog = await blockingCatalogRead(ctx, deps);
    ctx.body = readableChecks(ctx, catalog, catalog.checksOn(name));
  });

  router.get('/v1/health/state', missing('check state', 'state'));
  router.get('/v1/health/state/:state', async (ctx) => {
    const state = pathParam(ctx, 'state') ?? '';
    // Consul answers an unknown state with an empty list; a typo then looks like "all
    // healthy", so Causeway refuses it.
    if (!(STATES as readonly string[]).includes(state)) {
      throw new InvalidArgumentError(
        `Invalid check state "${state}": use any, passing, warning or critical`,
        'state',
      );
    }
    const catalog = await blockingCatalogRead(ctx, deps);
    const checks = catalog
      .checks()
      .filter((c) => state === 'any' || c.status === (state as HealthStatus));
    ctx.body = readableChecks(ctx, catalog, checks);
  });
}

/**
 * `/v1/catalog/*`: register and deregister, and the reads (services, one service's
 * instances, nodes, one node's services), with Consul's shapes, blocking queries and
 * ACLs (see `agent/catalog_endpoint.go` and the catalog API docs).
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidArgumentError } from '../../../core/index.ts';
import { deregister, register, sameRecord } from '../../../core/src/catalog/catalog-writer.ts';
import { withoutIndexes } from '../../../core/src/catalog/codec.ts';
import { readCatalog } from '../../../core/src/catalog/snapshot.ts';
import type { CatalogSnapshot } from '../../../core/src/catalog/snapshot.ts';
import { CONSUL_API_SOURCE } from '../../../core/src/catalog/types.ts';
import type { HealthCheck, Registration, Stored } from '../../../core/src/catalog/types.ts';
import { requireAccess } from '../acl/authorizer.ts';
import type { Authorizer } from '../acl/authorizer.ts';
import { stateOf } from '../http/api-context.ts';
import type { ApiDeps } from '../http/api-context.ts';
import { readJsonBody } from '../http/body.ts';
import { decodeCatalogDeregister, decodeCatalogRegister } from './catalog-decode.ts';
import {
  blockingCatalogRead,
  filterByAcl,
  hasTags,
  pathParam,
  queryValues,
} from './catalog-read.ts';
import { consulNode, consulNodeService, consulServiceNode } from './consul-encode.ts';

/** Reply `true`, as Consul's write endpoints do. */
function answerTrue(ctx: Context): void {
  ctx.type = 'application/json';
  ctx.body = 'true';
}

/**
 * The permissions a registration needs, as Consul's `vetRegisterWithACL` decides them:
 * node write only when the node record would change, service write on the service (and
 * on the one it replaces), and for each check its service's write or the node's.
 */
async function vetRegistration(ctx: Context, deps: ApiDeps, reg: Registration): Promise<void> {
  const { authz } = stateOf(ctx);
  if (authz.allows('node', reg.node.name, 'write')) return;
  const catalog = await readCatalog(deps.store);
  const existing = catalog.node(reg.node.name);
  if (
    existing === undefined ||
    (reg.skipNodeUpdate !== true &&
      !sameRecord({ ...withoutIndexes(existing), source: reg.node.source }, reg.node))
  ) {
    requireAccess(authz, 'node', reg.node.name, 'write');
  }
  if (reg.service !== undefined) {
    requireAccess(authz, 'service', reg.service.service, 'write');
    const replaced = catalog.instance(reg.node.name, reg.service.id);
    if (replaced !== undefined) requireAccess(authz, 'service', replaced.service, 'write');
  }
  for (const check of reg.checks ?? []) {
    // Overwriting a stored check needs write on what owns it now, or a service-scoped
    // token could re-home a node check onto its own service and then remove it.
    const current = catalog.check(reg.node.name, check.checkId);
    if (current !== undefined) requireCheckOwnerWrite(authz, catalog, current);
    if (check.serviceId === '') {
      requireAccess(authz, 'node', reg.node.name, 'write');
    } else if (check.serviceId !== reg.service?.id) {
      const other = catalog.instance(reg.node.name, check.serviceId);
      if (other !== undefined) requireAccess(authz, 'service', other.service, 'write');
    }
  }
}

/** Write on a stored check's owner: its node for a node check, else its service. */
function requireCheckOwnerWrite(
  authz: Authorizer,
  catalog: CatalogSnapshot,
  check: Stored<HealthCheck>,
): void {
  if (check.serviceId === '') {
    requireAccess(authz, 'node', check.node, 'write');
    return;
  }
  const owner = catalog.instance(check.node, check.serviceId);
  requireAccess(authz, 'service', owner?.service ?? check.serviceName, 'write');
}

export function catalogRoutes(router: Router, deps: ApiDeps): void {
  const dc = deps.zone.name;

  router.put('/v1/catalog/register', async (ctx) => {
    const reg = decodeCatalogRegister(await readJsonBody(ctx, deps.zone.maxBodyBytes), dc);
    await vetRegistration(ctx, deps, reg);
    await register(deps.store, reg);
    answerTrue(ctx);
  });

  router.put('/v1/catalog/deregister', async (ctx) => {
    const dereg = decodeCatalogDeregister(await readJsonBody(ctx, deps.zone.maxBodyBytes));
    const { authz } = stateOf(ctx);
    if (!authz.allows('node', dereg.node, 'write')) {
      const catalog = await readCatalog(deps.store);
      const instance =
        dereg.serviceId === undefined ? undefined : catalog.instance(dereg.node, dereg.serviceId);
      const check =
        dereg.checkId === undefined ? undefined : catalog.check(dereg.node, dereg.checkId);
      if (instance !== undefined) {
        requireAccess(authz, 'service', instance.service, 'write');
      } else if (dereg.serviceId === undefined && check !== undefined) {
        requireCheckOwnerWrite(authz, catalog, check);
      } else {
        requireAccess(authz, 'node', dereg.node, 'write');
      }
    }
    await deregister(deps.store, dereg, CONSUL_API_SOURCE);
    answerTrue(ctx);
  });

  router.get('/v1/catalog/datacenters', (ctx) => {
    ctx.body = [dc];
  });

  router.get('/v1/catalog/services', async (ctx) => {
    const catalog = await blockingCatalogRead(ctx, deps);
    const { authz } = stateOf(ctx);
    const entries = filterByAcl(ctx, [...catalog.serviceTags()], ([name]) =>
      authz.allows('service', name, 'read'),
    );
    ctx.body = Object.fromEntries(entries);
  });

  router.get('/v1/catalog/service', () => {
    throw new InvalidArgumentError('Missing service name', 'service');
  });

  router.get('/v1/catalog/service/:service', async (ctx) => {
    const name = pathParam(ctx, 'service') ?? '';
    const { authz } = stateOf(ctx);
    requireAccess(authz, 'service', name, 'read');
    const catalog = await blockingCatalogRead(ctx, deps);
    const tags = queryValues(ctx, 'tag');
    const instances = filterByAcl(
      ctx,
      catalog.instancesOf(name).filter((i) => hasTags(i.tags, tags)),
      (i) => authz.allows('node', i.node, 'read'),
    );
    ctx.body = instances.map((i) => consulServiceNode(catalog.node(i.node), i, dc));
  });

  router.get('/v1/catalog/nodes', async (ctx) => {
    const catalog = await blockingCatalogRead(ctx, deps);
    const { authz } = stateOf(ctx);
    const nodes = filterByAcl(ctx, catalog.nodes(), (n) => authz.allows('node', n.name, 'read'));
    ctx.body = nodes.map((n) => consulNode(n, dc));
  });

  router.get('/v1/catalog/node', () => {
    throw new InvalidArgumentError('Missing node name', 'node');
  });

  router.get('/v1/catalog/node/:node', async (ctx) => {
    const name = pathParam(ctx, 'node') ?? '';
    const catalog = await blockingCatalogRead(ctx, deps);
    const { authz } = stateOf(ctx);
    const node = catalog.node(name);
    ctx.type = 'application/json';
    // Consul answers 200 with `null` for an unknown node, and hides one the token may not
    // read the same way.
    if (node === undefined || !authz.allows('node', name, 'read')) {
      ctx.body = 'null';
      return;
    }
    const instances = filterByAcl(ctx, catalog.instancesOn(name), (i) =>
      authz.allows('service', i.service, 'read'),
    );
    ctx.body = {
      Node: consulNode(node, dc),
      Services: Object.fromEntries(instances.map((i) => [i.id, consulNodeService(i)])),
    };
  });
}

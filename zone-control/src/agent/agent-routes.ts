/**
 * `/v1/agent/*` for services and checks. A zone control plane is the "agent" of one node,
 * named after the zone: services registered here live on that node, and the zone runs
 * their checks (see `health/check-runner.ts`). TTL updates go through the runner so the
 * TTL restarts; the other writes are catalog writes. Messages and status codes follow
 * Consul's `agent/agent_endpoint.go` (404 "Unknown service ID …", "Unknown check ID …").
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidArgumentError, NotFoundError } from '../../../core/index.ts';
import { deregister, register } from '../../../core/src/catalog/catalog-writer.ts';
import { readCatalog } from '../../../core/src/catalog/snapshot.ts';
import { CONSUL_API_SOURCE } from '../../../core/src/catalog/types.ts';
import type { CatalogNode, HealthStatus, Source } from '../../../core/src/catalog/types.ts';
import type { CheckUpdate } from '../../../core/src/catalog/catalog-writer.ts';
import { requireAccess } from '../acl/authorizer.ts';
import { stateOf } from '../http/api-context.ts';
import type { ApiDeps } from '../http/api-context.ts';
import type { RouteModule } from '../http/app.ts';
import { readJsonBody } from '../http/body.ts';
import { canReadCheck, filterByAcl, pathParam, queryValue } from '../catalog/catalog-read.ts';
import { consulAgentService, consulCheck } from '../catalog/consul-encode.ts';
import { ConsulObject, queryFlag } from '../catalog/consul-json.ts';
import { decodeAgentServiceRegister } from './agent-decode.ts';

/** What the agent API needs from the health check runner. */
export interface TtlUpdater {
  updateTtl(node: string, checkId: string, update: CheckUpdate, writer?: Source): Promise<void>;
}

/** The zone's own node record: named after the zone, at the API's address. */
export function zoneNode(deps: ApiDeps): CatalogNode {
  let { host } = deps.selfAddr();
  // A wildcard bind is not an address anyone can reach this node on.
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return {
    name: deps.zone.name,
    address: host,
    id: '',
    zone: deps.zone.name,
    taggedAddresses: {},
    meta: {},
    source: CONSUL_API_SOURCE,
  };
}

function unknownService(id: string): NotFoundError {
  return new NotFoundError(
    `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`,
    'serviceId',
  );
}

function unknownCheck(id: string): NotFoundError {
  return new NotFoundError(
    `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`,
    'checkId',
  );
}

/** The agent API; `ttl` is the zone's health check runner. */
export function agentRoutes(ttl: TtlUpdater): RouteModule {
  return (router: Router, deps: ApiDeps) => {
    const dc = deps.zone.name;
    const nodeName = dc;

    router.put('/v1/agent/service/register', async (ctx) => {
      const replaceChecks = queryFlag(
        ctx.query['replace-existing-checks'],
        'replace-existing-checks',
      );
      const body = await readJsonBody(ctx, deps.zone.maxBodyBytes);
      const { instance, checks } = decodeAgentServiceRegister(body, nodeName, dc);
      const { authz } = stateOf(ctx);
      requireAccess(authz, 'service', instance.service, 'write');
      const replaced = (await readCatalog(deps.store)).instance(nodeName, instance.id);
      if (replaced !== undefined) requireAccess(authz, 'service', replaced.service, 'write');
      await register(deps.store, {
        node: zoneNode(deps),
        service: instance,
        checks,
        replaceServiceChecks: replaceChecks,
        preserveCheckStatus: true,
      });
      ctx.status = 200;
      ctx.body = '';
    });

    router.put('/v1/agent/service/deregister/:id', async (ctx) => {
      const id = pathParam(ctx, 'id') ?? '';
      const instance = (await readCatalog(deps.store)).instance(nodeName, id);
      if (instance === undefined) throw unknownService(id);
      requireAccess(stateOf(ctx).authz, 'service', instance.service, 'write');
      await deregister(deps.store, { node: nodeName, serviceId: id }, CONSUL_API_SOURCE);
      ctx.status = 200;
      ctx.body = '';
    });

    const ttlUpdate = async (ctx: Context, update: CheckUpdate) => {
      const id = pathParam(ctx, 'id') ?? '';
      const catalog = await readCatalog(deps.store);
      const check = catalog.check(nodeName, id);
      if (check === undefined) throw unknownCheck(id);
      const { authz } = stateOf(ctx);
      if (check.serviceId === '') requireAccess(authz, 'node', nodeName, 'write');
      else {
        const service = catalog.instance(nodeName, check.serviceId)?.service ?? check.serviceName;
        requireAccess(authz, 'service', service, 'write');
      }
      await ttl.updateTtl(nodeName, id, update, CONSUL_API_SOURCE);
      ctx.status = 200;
      ctx.body = '';
    };
    for (const [verb, status] of [
      ['pass', 'passing'],
      ['warn', 'warning'],
      ['fail', 'critical'],
    ] as const) {
      router.put(`/v1/agent/check/${verb}/:id`, (ctx) =>
        ttlUpdate(ctx, { status, output: queryValue(ctx, 'note') ?? '' }),
      );
    }
    router.put('/v1/agent/check/update/:id', async (ctx) => {
      const obj = ConsulObject.body(await readJsonBody(ctx, deps.zone.maxBodyBytes));
      const status = obj.string('Status');
      if (!['passing', 'warning', 'critical'].includes(status)) {
        throw new InvalidArgumentError(`Invalid check status: '${status}'`, 'Status');
      }
      await ttlUpdate(ctx, { status: status as HealthStatus, output: obj.string('Output') });
    });

    router.get('/v1/agent/services', async (ctx) => {
      const catalog = await readCatalog(deps.store);
      const { authz } = stateOf(ctx);
      const instances = filterByAcl(ctx, catalog.instancesOn(nodeName), (i) =>
        authz.allows('service', i.service, 'read'),
      );
      ctx.body = Object.fromEntries(instances.map((i) => [i.id, consulAgentService(i, dc)]));
    });

    router.get('/v1/agent/checks', async (ctx) => {
      const catalog = await readCatalog(deps.store);
      const checks = catalog.checksOn(nodeName).map((check) => ({
        check,
        instance: check.serviceId === '' ? undefined : catalog.instance(nodeName, check.serviceId),
      }));
      const readable = filterByAcl(ctx, checks, ({ check, instance }) =>
        canReadCheck(ctx, check, instance),
      );
      ctx.body = Object.fromEntries(
        readable.map(({ check, instance }) => [check.checkId, consulCheck(check, instance)]),
      );
    });
  };
}

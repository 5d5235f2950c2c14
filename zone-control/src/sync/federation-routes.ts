/**
 * `GET /api/federation`: what this zone knows of the rest of the mesh — its sync with
 * global, and the services other zones export to it and their gateways, as last received
 * (they stay while global is unreachable). Native JSON; `operator:read`.
 */
import type Router from '@koa/router';
import { globalResourcePrefix, readStoredResources } from '../../../core/index.ts';
import type { RemoteGatewayResource, RemoteServiceResource } from '../../../core/index.ts';
import { requireAccess } from '../acl/authorizer.ts';
import { stateOf } from '../http/api-context.ts';
import type { RouteModule } from '../http/app.ts';
import type { GlobalSyncClient } from './global-client.ts';

export function federationRoutes(client: GlobalSyncClient | undefined): RouteModule {
  return (router: Router, deps) => {
    router.get('/api/federation', async (ctx) => {
      requireAccess(stateOf(ctx).authz, 'operator', '', 'read');
      const onError = (key: string, err: unknown): void =>
        deps.logger.error({ key, err: String(err) }, 'skipping an unreadable remote resource');
      const [services, gateways] = await Promise.all([
        readStoredResources<RemoteServiceResource>(
          deps.store,
          globalResourcePrefix('remote-service'),
          onError,
        ),
        readStoredResources<RemoteGatewayResource>(
          deps.store,
          globalResourcePrefix('remote-gateway'),
          onError,
        ),
      ]);
      ctx.body = {
        zone: deps.zone.name,
        federated: client !== undefined,
        global: client?.status() ?? null,
        remoteServices: [...services.values()].map((s) => ({
          ...s.body,
          receivedAt: s.receivedAt,
        })),
        remoteGateways: [...gateways.values()].map((g) => ({
          ...g.body,
          receivedAt: g.receivedAt,
        })),
      };
    });
  };
}

/** `GET /api/proxies`: every proxy seen on this zone's config stream, with its ACK state. */
import type Router from '@koa/router';
import { requireAccess } from '../acl/authorizer.ts';
import { stateOf } from '../http/api-context.ts';
import type { RouteModule } from '../http/app.ts';
import type { ProxyStreamServer } from './stream-server.ts';

export function proxyRoutes(stream: ProxyStreamServer): RouteModule {
  return (router: Router) => {
    router.get('/api/proxies', (ctx) => {
      requireAccess(stateOf(ctx).authz, 'operator', '', 'read');
      ctx.body = { proxies: stream.statuses() };
    });
  };
}

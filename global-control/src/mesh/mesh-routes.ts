/**
 * The mesh-wide reads: `GET /api/services` (every service, per zone: instance health and
 * who it is exported to) and `GET /api/gateways` (every east-west gateway). Both carry
 * `X-Causeway-Index`, the store index the answer is consistent with.
 */
import type Router from '@koa/router';
import type { GlobalApiDeps } from '../http/app.ts';
import { readMeshView } from './mesh-view.ts';

export function meshRoutes(router: Router, deps: GlobalApiDeps): void {
  router.get('/api/services', async (ctx) => {
    const view = await readMeshView(deps.store, deps.logger);
    ctx.set('X-Causeway-Index', String(view.index));
    ctx.body = { services: view.services };
  });
  router.get('/api/gateways', async (ctx) => {
    const view = await readMeshView(deps.store, deps.logger);
    ctx.set('X-Causeway-Index', String(view.index));
    ctx.body = { gateways: view.gateways };
  });
}

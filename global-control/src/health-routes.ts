/**
 * `GET /api/health`: readiness, without a token. 200 once the CA is loaded and the store
 * answers; 503 (with the reason) when the store does not.
 */
import type Router from '@koa/router';
import type { GlobalApiDeps } from './http/app.ts';

export function healthRoutes(router: Router, deps: GlobalApiDeps): void {
  router.get('/api/health', async (ctx) => {
    try {
      await deps.store.currentIndex();
    } catch (err) {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', reason: `the store does not answer: ${String(err)}` };
      return;
    }
    ctx.body = { status: 'ok', trustDomain: deps.ca.trustDomain, rootPin: deps.ca.rootPin() };
  });
}

/**
 * `GET /api/ca`: the mesh's root (id, pin, validity, PEM), the global's own certificate,
 * and every zone intermediate the root signed.
 */
import type Router from '@koa/router';
import type { GlobalApiDeps } from '../http/app.ts';

export function caRoutes(router: Router, deps: GlobalApiDeps): void {
  router.get('/api/ca', async (ctx) => {
    const { ca } = deps;
    const now = Date.now();
    const identity = await ca.serverIdentity();
    ctx.body = {
      trustDomain: ca.trustDomain,
      root: ca.root,
      serverIdentity: {
        spiffeId: identity.spiffeId,
        serial: identity.serial,
        notBefore: identity.notBefore.toISOString(),
        notAfter: identity.notAfter.toISOString(),
      },
      intermediates: (await ca.intermediates()).map((i) => ({
        zone: i.zone,
        serial: i.serial,
        spiffeId: i.spiffeId,
        rootId: i.rootId,
        issuedAt: i.issuedAt,
        notAfter: i.notAfter,
        expired: Date.parse(i.notAfter) <= now,
      })),
    };
  });
}

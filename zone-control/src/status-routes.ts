/**
 * `/v1/status/leader` and `/v1/status/peers`. A zone control plane is its own leader
 * until leader election lands; Consul clients use these to check the agent is up.
 */
import type Router from '@koa/router';
import type { ApiDeps } from './http/api-context.ts';

export function statusRoutes(router: Router, deps: ApiDeps): void {
  const self = (): string => {
    const { host, port } = deps.selfAddr();
    return JSON.stringify(`${host}:${port}`);
  };
  router.get('/v1/status/leader', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = self();
  });
  router.get('/v1/status/peers', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = `[${self()}]`;
  });
}

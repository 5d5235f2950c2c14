/**
 * The zone's HTTP API as a koa app: error handling, per-request state (token, abort
 * signal), then the route modules in the order Consul documents them.
 */
import Router from '@koa/router';
import Koa from 'koa';
import { MethodNotAllowedError } from '../../../core/index.ts';
import type { Context, Next } from 'koa';
import type { ApiDeps, ApiState, AuthorizerResolver } from './api-context.ts';
import { errorMiddleware } from './errors.ts';

/** A route module adds its routes to the shared router. */
export type RouteModule = (router: Router, deps: ApiDeps) => void;

export function createHttpApp(
  deps: ApiDeps,
  resolveAuthorizer: AuthorizerResolver,
  modules: readonly RouteModule[],
): Koa {
  const app = new Koa();
  app.proxy = false;
  app.use(errorMiddleware(deps.logger));
  app.use(async (ctx: Context, next: Next) => {
    await next();
    // Stopping: blocked reads answer at once, and a long-polling client (a gateway, a
    // Consul watch) would ask again on the same keep-alive connection and keep the server
    // from closing. Closing each connection after its answer lets the drain finish.
    if (deps.stopping.aborted) ctx.set('Connection', 'close');
  });
  app.use(async (ctx: Context, next: Next) => {
    const ac = new AbortController();
    const abort = (): void => ac.abort();
    ctx.req.once('close', () => {
      // 'close' also fires after a complete request; only an unfinished response means
      // the client left.
      if (!ctx.res.writableEnded) abort();
    });
    deps.stopping.addEventListener('abort', abort, { once: true });
    try {
      const state: ApiState = { authz: await resolveAuthorizer(ctx), signal: ac.signal };
      Object.assign(ctx.state, state);
      await next();
    } finally {
      deps.stopping.removeEventListener('abort', abort);
    }
  });
  const router = new Router();
  for (const register of modules) register(router, deps);
  app.use(async (ctx, next) => {
    await next();
    // The router answers a known path with a wrong method by setting 405 and `Allow`;
    // give it a body in the path's style, naming the methods that would work.
    if (ctx.status === 405 && ctx.body == null) {
      const allowed = (ctx.response.get('Allow') || '').split(/,\s*/).filter(Boolean);
      throw new MethodNotAllowedError(ctx.method, ctx.path, allowed);
    }
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

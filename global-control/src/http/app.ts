/**
 * The global's HTTP API as a koa app: errors as `{ "error": … }`, the admin token check
 * (every path but `/api/health`, unless `--dev`), then the route modules.
 */
import Router from '@koa/router';
import Koa from 'koa';
import type { Context, Next } from 'koa';
import { MethodNotAllowedError } from '../../../core/index.ts';
import type { Logger, Store, SyncStatusSource } from '../../../core/index.ts';
import type { AdminAuth } from '../admin-token.ts';
import type { GlobalCa } from '../ca/global-ca.ts';
import type { GlobalKv } from '../kv/global-kv.ts';
import type { ResolvedGlobalOptions } from '../options.ts';
import type { ZoneRegistry } from '../zones/zone-registry.ts';
import { UnauthenticatedError, errorMiddleware } from './errors.ts';

export interface GlobalApiDeps {
  store: Store;
  options: ResolvedGlobalOptions;
  logger: Logger;
  auth: AdminAuth;
  ca: GlobalCa;
  zones: ZoneRegistry;
  /** Global KV, the one writer zones' forwarded writes share. */
  kv: GlobalKv;
  /** Read on every request, so the sync server can be attached after the API is built. */
  syncStatus: () => SyncStatusSource;
}

/** A route module adds its routes to the shared router. */
export type RouteModule = (router: Router, deps: GlobalApiDeps) => void;

/** Paths anyone may read: readiness probes carry no token. */
const PUBLIC_PATHS = new Set(['/api/health']);

/** The token a request presents: `Authorization: Bearer …` or `X-Causeway-Token`. */
export function presentedToken(ctx: Context): string | undefined {
  const header = ctx.get('Authorization');
  if (header !== '') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new UnauthenticatedError('the Authorization header must be "Bearer <admin token>"');
    }
    return match[1];
  }
  const token = ctx.get('X-Causeway-Token').trim();
  return token === '' ? undefined : token;
}

export function createHttpApp(deps: GlobalApiDeps, modules: readonly RouteModule[]): Koa {
  const app = new Koa();
  app.proxy = false;
  app.use(errorMiddleware(deps.logger));
  app.use(async (ctx: Context, next: Next) => {
    if (deps.auth.mode !== 'dev' && !PUBLIC_PATHS.has(ctx.path)) {
      deps.auth.check(presentedToken(ctx));
    }
    await next();
  });
  const router = new Router();
  for (const register of modules) register(router, deps);
  app.use(async (ctx, next) => {
    await next();
    // The router answers a known path with a wrong method by setting 405 and `Allow`.
    if (ctx.status === 405 && ctx.body == null) {
      const allowed = (ctx.response.get('Allow') || '').split(/,\s*/).filter(Boolean);
      throw new MethodNotAllowedError(ctx.method, ctx.path, allowed);
    }
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  // Anything else is a JSON 404, not koa's plain "Not Found".
  app.use((ctx) => {
    if (ctx.status === 404 && ctx.body == null) {
      ctx.status = 404;
      ctx.body = {
        error: { code: 'CW_ERR_NOT_FOUND', message: `no such endpoint: ${ctx.method} ${ctx.path}` },
      };
    }
  });
  return app;
}

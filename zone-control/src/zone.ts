/**
 * A zone control plane: one store, the HTTP API on top of it, and (with later issues) the
 * proxy config stream and zone sync. `createZone()` wires the parts in visible order;
 * `components()` hands them to the lifecycle runner.
 */
import { openStore } from '../../core/index.ts';
import type { Component, Logger, Store } from '../../core/index.ts';
import { allowAll } from './acl/authorizer.ts';
import type { ApiDeps, AuthorizerResolver } from './http/api-context.ts';
import { createHttpApp } from './http/app.ts';
import type { RouteModule } from './http/app.ts';
import { HttpServerComponent } from './http/http-server.ts';
import { resolveZoneOptions } from './options.ts';
import type { ResolvedZoneOptions, ZoneOptions } from './options.ts';
import { statusRoutes } from './status-routes.ts';

export interface Zone {
  readonly options: ResolvedZoneOptions;
  readonly store: Store;
  readonly http: HttpServerComponent;
  /** In start order. */
  components(): Component[];
}

/** Route modules in Consul's documentation order. */
const routeModules: readonly RouteModule[] = [statusRoutes];

export async function createZone(input: ZoneOptions, logger: Logger): Promise<Zone> {
  const options = resolveZoneOptions(input);
  const store = await openStore(options.store, { dataDir: options.dataDir, logger });
  const stopping = new AbortController();
  const deps: ApiDeps = {
    store,
    zone: options,
    logger,
    stopping: stopping.signal,
    // Called by requests only, after `http` below is listening.
    selfAddr: () => http.address(),
  };
  const resolveAuthorizer: AuthorizerResolver = () => Promise.resolve(allowAll);
  const app = createHttpApp(deps, resolveAuthorizer, routeModules);
  const http = new HttpServerComponent(app, options.httpAddr, logger, stopping);
  const storeCloser: Component = {
    name: 'store',
    async start(signal) {
      if (!signal.aborted) {
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      }
      await store.close();
    },
  };
  return {
    options,
    store,
    http,
    // The store starts first and stops last, after the API has drained.
    components: () => [storeCloser, http],
  };
}

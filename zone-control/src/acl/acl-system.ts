/**
 * The zone's ACL system in one place for `zone.ts` to wire: how requests get their
 * authorizer, the `/v1/acl` routes, and the background component (first-start bootstrap,
 * then the cache-invalidating watch). With `--dev` ACLs are off: every request may do
 * anything and `/v1/acl` answers 401, as a Consul agent with ACLs disabled does.
 */
import type { Component, Logger, Store } from '../../../core/index.ts';
import type { AuthorizerResolver } from '../http/api-context.ts';
import type { RouteModule } from '../http/app.ts';
import type { ResolvedZoneOptions } from '../options.ts';
import { initializeAcl } from './acl-bootstrap.ts';
import { AclResolver } from './acl-resolver.ts';
import { aclRoutes } from './acl-routes.ts';
import { allowAll } from './authorizer.ts';
import type { Authorizer } from './authorizer.ts';

/**
 * Consul (1.9+) names its default policy on every answer, ACLs on or off; its UI reads it.
 * With ACLs on Causeway's default is always deny.
 */
const DEFAULT_POLICY_HEADER = 'X-Consul-Default-ACL-Policy';

export interface AclSystem {
  resolveAuthorizer: AuthorizerResolver;
  /** The Authorizer for a token secret that arrived outside an HTTP API request. */
  authorizeToken: (secret: string) => Promise<Authorizer>;
  routes: RouteModule;
  /** Start before the HTTP API (it is ready once the bootstrap tokens exist). */
  components: Component[];
}

/** Bootstraps at start, then keeps the resolver's cache in step with the store. */
class AclComponent implements Component {
  readonly name = 'acl';
  private readonly initialized: Promise<void>;
  private markInitialized!: () => void;
  private failInitialized!: (err: unknown) => void;

  constructor(
    private readonly store: Store,
    private readonly resolver: AclResolver,
    private readonly options: ResolvedZoneOptions,
    private readonly logger: Logger,
  ) {
    this.initialized = new Promise((resolve, reject) => {
      this.markInitialized = resolve;
      this.failInitialized = reject;
    });
    // A failure is reported through start(); ready() must not also surface it unhandled.
    this.initialized.catch(() => undefined);
  }

  ready(): Promise<void> {
    return this.initialized;
  }

  async start(signal: AbortSignal): Promise<void> {
    try {
      await initializeAcl(this.store, this.options, this.logger);
      this.markInitialized();
    } catch (err) {
      this.failInitialized(err);
      throw err;
    }
    await this.resolver.run(signal);
  }
}

export function createAcl(store: Store, options: ResolvedZoneOptions, logger: Logger): AclSystem {
  if (options.dev) {
    return {
      resolveAuthorizer: (ctx) => {
        ctx.set(DEFAULT_POLICY_HEADER, 'allow');
        return Promise.resolve(allowAll);
      },
      authorizeToken: () => Promise.resolve(allowAll),
      routes: aclRoutes(undefined),
      components: [],
    };
  }
  const resolver = new AclResolver(store, options.name, logger);
  return {
    resolveAuthorizer: (ctx) => {
      ctx.set(DEFAULT_POLICY_HEADER, 'deny');
      return resolver.resolve(ctx);
    },
    authorizeToken: (secret) => resolver.authorizerFor(secret),
    routes: aclRoutes(resolver),
    components: [new AclComponent(store, resolver, options, logger)],
  };
}

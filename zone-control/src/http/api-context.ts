/**
 * What every route module gets: the store, the zone's resolved options, a logger, and the
 * signal that aborts when the server stops (so blocked reads answer at once).
 */
import type { Context } from 'koa';
import type { HostPort, Logger, Store } from '../../../core/index.ts';
import type { Authorizer } from '../acl/authorizer.ts';
import type { ResolvedZoneOptions } from '../options.ts';

export interface ApiDeps {
  store: Store;
  zone: ResolvedZoneOptions;
  logger: Logger;
  stopping: AbortSignal;
  /** The address the HTTP API is bound to (its real port once listening). */
  selfAddr: () => HostPort;
}

/** Request state set by middleware before any route runs. */
export interface ApiState {
  /** What the request's token may do. */
  authz: Authorizer;
  /** Aborts when the client goes away or the server stops. */
  signal: AbortSignal;
}

export function stateOf(ctx: Context): ApiState {
  return ctx.state;
}

/** Finds the Authorizer for a request's token (`X-Consul-Token`, `Authorization: Bearer`). */
export type AuthorizerResolver = (ctx: Context) => Promise<Authorizer>;

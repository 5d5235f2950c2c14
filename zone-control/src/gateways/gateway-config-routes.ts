/**
 * `GET /api/gateways/<name>/config`: how `causeway run gateway` is programmed. Answers the
 * zone's {@link GatewayConfig} (built by `gateway-config-builder.ts`), Consul-style
 * blocking (`?index=N&wait=D`, `X-Consul-Index`). Needs `service:write` on `<name>`, the
 * right that also gets the gateway its `…/gateway/<name>` leaf from `POST /api/ca/leaf`.
 *
 * A blocked read wakes on a change under `catalog/`, the exported-services entry or
 * `sync/global/remote-gateway/`; but most of those (a health check of a service nobody
 * exports, a TTL renewal) leave the config as it was. So the route remembers which config
 * version it answered at which store index, and when the client's index is one of them
 * it keeps waiting until the config itself differs: a gateway's long poll returns when
 * there is something new, not on every catalog write. An index it does not know (another
 * server, a restart) gets Consul's rule: the first change after it ends the wait.
 */
import type Router from '@koa/router';
import {
  InvalidArgumentError,
  configEntryPrefix,
  exportsOf,
  isDnsLabel,
  readCatalog,
  readConfigEntry,
  EXPORTED_SERVICES_NAME,
  CATALOG_PREFIX,
} from '../../../core/index.ts';
import type { GatewayConfig, Store } from '../../../core/index.ts';
import { requireAccess } from '../acl/authorizer.ts';
import { stateOf } from '../http/api-context.ts';
import type { ApiDeps } from '../http/api-context.ts';
import type { RouteModule } from '../http/app.ts';
import { parseBlockingQuery, setConsulHeaders, waitForChange } from '../http/blocking.ts';
import type { BlockingQuery, WatchTarget } from '../http/blocking.ts';
import { REMOTE_GATEWAY_PREFIX, readRemoteGateways } from '../proxy-stream/remote-resources.ts';
import { buildGatewayConfig } from './gateway-config-builder.ts';

/** What a gateway's config is read from; a change under any of them may change it. */
const WATCHED: readonly WatchTarget[] = [
  { prefix: CATALOG_PREFIX },
  { prefix: configEntryPrefix('exported-services') },
  { prefix: REMOTE_GATEWAY_PREFIX },
];

/** Store indexes whose answer is remembered; enough for every gateway of a zone. */
const REMEMBERED_INDEXES = 1024;

interface Read {
  config: GatewayConfig;
  /** The store index before the read: the config reflects at least everything up to it. */
  index: number;
  /** No write landed during the read, so the config is exactly the state at `index`. */
  exact: boolean;
}

export const gatewayConfigRoutes: RouteModule = (router: Router, deps: ApiDeps) => {
  const answered = new AnsweredVersions(REMEMBERED_INDEXES);

  router.get('/api/gateways/:name/config', async (ctx) => {
    const name = ctx.params.name ?? '';
    if (!isDnsLabel(name)) {
      throw new InvalidArgumentError(
        `name must be a gateway name, a lowercase DNS label (got ${JSON.stringify(name)})`,
        'name',
      );
    }
    const { authz, signal } = stateOf(ctx);
    requireAccess(authz, 'service', name, 'write');
    const query = parseBlockingQuery(ctx);
    const load = (): Promise<Read> => readGatewayConfig(deps);
    let read: Read;
    if (query.index === 0 || query.waitMs === 0) {
      read = await load();
    } else {
      const known = answered.get(query.index);
      read =
        known === undefined
          ? await waitForAny(deps.store, query, signal).then(load)
          : await waitForNewConfig(deps.store, query, known, signal, load);
    }
    // Index 0 (an empty store) is never answered as such (Consul clients would not block).
    if (read.exact && read.index > 0) answered.set(read.index, read.config.version ?? '');
    setConsulHeaders(ctx, read.index);
    ctx.body = read.config;
  });
};

async function readGatewayConfig(deps: ApiDeps): Promise<Read> {
  const { store, logger } = deps;
  const index = await store.currentIndex();
  const [catalog, entry, remoteGateways] = await Promise.all([
    readCatalog(store),
    readConfigEntry(store, 'exported-services', 'default', EXPORTED_SERVICES_NAME),
    readRemoteGateways(store, (key, err) =>
      logger.error({ key, err: String(err) }, 'skipping an unreadable zone sync record'),
    ),
  ]);
  const config = buildGatewayConfig({
    zone: deps.zone.name,
    trustDomain: deps.zone.trustDomain,
    catalog,
    exports: exportsOf(entry ?? undefined),
    remoteGateways,
  });
  return { config, index, exact: (await store.currentIndex()) === index };
}

/**
 * Hold until the config differs from `known`, the version answered at `query.index`, the
 * wait runs out, or `signal` aborts. Returns the latest read.
 */
async function waitForNewConfig(
  store: Store,
  query: BlockingQuery,
  known: string,
  signal: AbortSignal,
  load: () => Promise<Read>,
): Promise<Read> {
  const deadline = Date.now() + query.waitMs;
  let current = await load();
  while (current.config.version === known && !signal.aborted) {
    const waitMs = deadline - Date.now();
    if (waitMs <= 0) break;
    // From the index of the config in hand: changes up to it are already in it.
    await waitForAny(store, { ...query, index: current.index, waitMs }, signal);
    current = await load();
  }
  return current;
}

/** {@link waitForChange} on every watched prefix at once; the first to return ends it. */
async function waitForAny(store: Store, query: BlockingQuery, signal: AbortSignal): Promise<void> {
  const all = new AbortController();
  const stop = (): void => all.abort();
  signal.addEventListener('abort', stop, { once: true });
  try {
    await Promise.race(WATCHED.map((target) => waitForChange(store, target, query, all.signal)));
  } finally {
    all.abort();
    signal.removeEventListener('abort', stop);
  }
}

/** Store index → the config version answered at it, the oldest forgotten first. */
class AnsweredVersions {
  readonly #versions = new Map<number, string>();

  constructor(private readonly limit: number) {}

  get(index: number): string | undefined {
    return this.#versions.get(index);
  }

  set(index: number, version: string): void {
    this.#versions.delete(index);
    this.#versions.set(index, version);
    if (this.#versions.size > this.limit) {
      const oldest = this.#versions.keys().next().value;
      if (oldest !== undefined) this.#versions.delete(oldest);
    }
  }
}

/**
 * A zone control plane: one store, the HTTP API on top of it, and (with later issues) the
 * proxy config stream and zone sync. `createZone()` wires the parts in visible order;
 * `components()` hands them to the lifecycle runner.
 */
import { closeOnStop, openStore } from '../../core/index.ts';
import type { Component, Logger, Store } from '../../core/index.ts';
import { createAcl } from './acl/acl-system.ts';
import { dataplaneTokenRoutes } from './acl/dataplane-tokens.ts';
import type { ApiDeps, AuthorizerResolver } from './http/api-context.ts';
import { createHttpApp } from './http/app.ts';
import type { RouteModule } from './http/app.ts';
import { HttpServerComponent } from './http/http-server.ts';
import { resolveZoneOptions } from './options.ts';
import type { ResolvedZoneOptions, ZoneOptions } from './options.ts';
import { statusRoutes } from './status-routes.ts';
import { catalogRoutes } from './catalog/catalog-routes.ts';
import { healthRoutes } from './health/health-routes.ts';
import { HealthCheckRunner } from './health/check-runner.ts';
import { agentRoutes } from './agent/agent-routes.ts';
import { STANDALONE_KV } from './kv/global-kv.ts';
import type { GlobalKv } from './kv/global-kv.ts';
import { kvRoutes } from './kv/kv-routes.ts';
import { sessionRoutes } from './session/session-routes.ts';
import { SessionReaper } from './session/session-reaper.ts';
import { txnRoutes } from './txn/txn-routes.ts';
import { caRoutes } from './ca/ca-routes.ts';
import { readProvidedCa } from './ca/provided-ca.ts';
import { resolveSealer } from './ca/ca-sealer.ts';
import { ZoneCa } from './ca/zone-ca.ts';
import { configRoutes } from './config/config-routes.ts';
import { proxyRoutes } from './proxy-stream/proxy-routes.ts';
import { ProxyStreamServer } from './proxy-stream/stream-server.ts';
import { gatewayConfigRoutes } from './gateways/gateway-config-routes.ts';
import { GlobalSyncClient } from './sync/global-client.ts';
import { readFederationFiles } from './sync/federation-files.ts';
import { federationRoutes } from './sync/federation-routes.ts';

export interface Zone {
  readonly options: ResolvedZoneOptions;
  readonly store: Store;
  readonly http: HttpServerComponent;
  readonly ca: ZoneCa;
  readonly proxyStream: ProxyStreamServer;
  /** Zone sync with the global control plane, when the zone is federated (`--global-addr`). */
  readonly globalSync: GlobalSyncClient | undefined;
  /** In start order. */
  components(): Component[];
}

/** Route modules in Consul's documentation order; KV needs to know which keys are global. */
const routeModules = (globalKv: GlobalKv): readonly RouteModule[] => [
  statusRoutes,
  catalogRoutes,
  healthRoutes,
  kvRoutes(globalKv),
  sessionRoutes,
  txnRoutes(globalKv),
  configRoutes,
];

export async function createZone(input: ZoneOptions, logger: Logger): Promise<Zone> {
  const options = resolveZoneOptions(input);
  // Read the CA's key material before opening the store, so a bad file fails fast.
  const sealer = await resolveSealer(options, logger);
  const provided = await readProvidedCa(options);
  const federation = await readFederationFiles(options);
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
  const acl = createAcl(store, options, logger);
  const resolveAuthorizer: AuthorizerResolver = acl.resolveAuthorizer;
  // Runs the catalog's monitored checks; the agent API renews TTLs through it.
  const health = new HealthCheckRunner(store, logger);
  // The zone's CA: a standalone zone creates its own root at first start.
  const ca = new ZoneCa(
    store,
    {
      trustDomain: options.trustDomain,
      zone: options.name,
      sealer,
      keyType: options.caKeyType,
      provided,
      leafTtlMs: options.leafTtlMs,
      signRatePerSecond: options.caSignRate,
      participantTtlMs: options.caParticipantTtlMs,
      federated: federation !== undefined,
    },
    logger,
  );
  // The proxy config stream on --xds-addr, served with the zone's own identity.
  const proxyStream = new ProxyStreamServer({
    addr: options.xdsAddr,
    store,
    ca,
    checks: health,
    authorizeToken: acl.authorizeToken,
    logger,
    requireToken: !options.dev,
    zone: options.name,
    deregisterAfterMs: options.proxyDeregisterAfterMs,
    checkTtlMs: options.proxyCheckTtlMs,
    debounceMs: options.proxyConfigDebounceMs,
  });
  // Dials global; on a first start it brings the CA state the zone CA waits for.
  const globalSync =
    federation &&
    new GlobalSyncClient({
      ...federation,
      zone: options.name,
      trustDomain: options.trustDomain,
      store,
      ca,
      sealer,
      logger,
      proxies: () => proxyStream.statuses().filter((p) => p.connected).length,
    });
  const app = createHttpApp(deps, resolveAuthorizer, [
    acl.routes,
    // Global KV: a federated zone's sync client knows the global prefixes and carries
    // writes of global keys to global; a standalone zone owns every key.
    ...routeModules(globalSync ?? STANDALONE_KV),
    agentRoutes(health),
    caRoutes(ca),
    proxyRoutes(proxyStream),
    dataplaneTokenRoutes(!options.dev),
    federationRoutes(globalSync),
    gatewayConfigRoutes,
  ]);
  const http = new HttpServerComponent(app, options.httpAddr, logger, stopping);
  // Invalidates TTL sessions that were not renewed in time.
  const sessionReaper = new SessionReaper(store, logger);
  const storeCloser = closeOnStop('store', () => store.close());
  return {
    options,
    store,
    http,
    ca,
    proxyStream,
    globalSync,
    // The store starts first and stops last, after the API has drained.
    components: () => [
      storeCloser,
      ...acl.components,
      ...(globalSync ? [globalSync] : []),
      ca,
      proxyStream,
      health,
      sessionReaper,
      http,
    ],
  };
}

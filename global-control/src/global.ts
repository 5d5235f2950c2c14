/**
 * The global control plane: one store, the mesh's root CA, the zone registry, global KV,
 * global policies, zone sync and the HTTP API on top. `createGlobal()` wires the parts in visible order;
 * `components()` hands them to the lifecycle runner.
 */
import { closeOnStop, openStore, resolveSealer } from '../../core/index.ts';
import type { Component, Logger, Store, SyncStatusSource } from '../../core/index.ts';
import { readProvidedAdminToken, resolveAdminAuth } from './admin-token.ts';
import { caRoutes } from './ca/ca-routes.ts';
import { GlobalCa } from './ca/global-ca.ts';
import { healthRoutes } from './health-routes.ts';
import { createHttpApp } from './http/app.ts';
import { HttpServerComponent } from './http/http-server.ts';
import { GlobalKv } from './kv/global-kv.ts';
import { kvRoutes } from './kv/kv-routes.ts';
import { meshRoutes } from './mesh/mesh-routes.ts';
import { GlobalPolicies } from './policies/global-policies.ts';
import { policyRoutes } from './policies/policy-routes.ts';
import { resolveGlobalOptions } from './options.ts';
import type { GlobalOptions, ResolvedGlobalOptions } from './options.ts';
import { SyncServer } from './sync/sync-server.ts';
import { ZoneRegistry } from './zones/zone-registry.ts';
import { zoneRoutes } from './zones/zone-routes.ts';

export interface Global {
  readonly options: ResolvedGlobalOptions;
  readonly store: Store;
  readonly http: HttpServerComponent;
  readonly ca: GlobalCa;
  readonly zones: ZoneRegistry;
  readonly kv: GlobalKv;
  readonly sync: SyncServer;
  /** In start order. */
  components(): Component[];
}

export async function createGlobal(input: GlobalOptions, logger: Logger): Promise<Global> {
  const options = resolveGlobalOptions(input);
  // Read the key that seals the CA's keys and the admin token before opening the store,
  // so a bad file fails fast.
  const sealer = await resolveSealer({ ...options, who: 'the global control plane' }, logger);
  const adminToken = await readProvidedAdminToken(options);
  const store = await openStore(options.store, { dataDir: options.dataDir, logger });
  const auth = await resolveAdminAuth(options, adminToken, store, logger).catch(
    async (err: unknown) => {
      await store.close();
      throw err;
    },
  );
  // The mesh's root CA (created at the first start), the zone token key, and the global's
  // own certificate for zone sync.
  const ca = new GlobalCa(
    store,
    {
      trustDomain: options.trustDomain,
      sealer,
      keyType: options.caKeyType,
      serverCertTtlMs: options.serverCertTtlMs,
      intermediateTtlMs: options.intermediateTtlMs,
    },
    logger,
  );
  // Zones, their tokens, and a watch that tells the sync server about disabled and
  // deleted zones.
  const zones = new ZoneRegistry(store, ca, { defaultTokenTtlMs: options.zoneTokenTtlMs }, logger);
  // Global KV under --kv-global-prefix: written here only (through the API, or forwarded
  // by a zone), replicated read-only to every zone.
  const kv = new GlobalKv(store, options.kvGlobalPrefixes);
  // Global policies: config entries written here, applied in every zone (read-only there).
  const policies = new GlobalPolicies(store);
  // Zone sync on --sync-addr: zones dial in, join with their token, then sync over mTLS.
  // It is also where the API reads each zone's sync health.
  const sync = new SyncServer({
    addr: options.syncAddr,
    store,
    ca,
    registry: zones,
    kv,
    logger,
  });
  const syncStatus: SyncStatusSource = sync;
  const app = createHttpApp(
    { store, options, logger, auth, ca, zones, kv, syncStatus: () => syncStatus },
    [healthRoutes, zoneRoutes, meshRoutes, caRoutes, kvRoutes, policyRoutes(policies)],
  );
  const http = new HttpServerComponent(app, options.httpAddr, logger);
  const storeCloser = closeOnStop('store', () => store.close());
  return {
    options,
    store,
    http,
    ca,
    zones,
    kv,
    sync,
    // The store starts first and stops last, after the API has drained.
    components: () => [storeCloser, ca, zones, sync, http],
  };
}

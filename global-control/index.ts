/**
 * The global control plane's public surface.
 */
export { globalMain } from './main.ts';
export { createGlobal } from './src/global.ts';
export type { Global } from './src/global.ts';
export { resolveGlobalOptions } from './src/options.ts';
export type { GlobalOptions, ResolvedGlobalOptions } from './src/options.ts';
export { parseGlobalFlags } from './src/flags.ts';
export { GlobalCa } from './src/ca/global-ca.ts';
export type {
  GlobalCaOptions,
  GlobalRootInfo,
  GlobalServerIdentity,
  SignedZoneIntermediate,
  ZoneTokenRequest,
} from './src/ca/global-ca.ts';
export {
  GLOBAL_ROOT_KEY,
  ZONE_INTERMEDIATE_PREFIX,
  ZONE_TOKEN_SIGNING_KEY,
} from './src/ca/ca-records.ts';
export type { ZoneIntermediateRecord } from './src/ca/ca-records.ts';
export { ZoneRegistry } from './src/zones/zone-registry.ts';
export type { IssuedZoneToken, VerifiedZoneToken, ZoneChange } from './src/zones/zone-registry.ts';
export { ZONES_PREFIX } from './src/zones/zone-record.ts';
export type { ZoneRecord } from './src/zones/zone-record.ts';
export { ADMIN_TOKEN_FILE, ADMIN_TOKEN_KEY } from './src/admin-token.ts';
export { NO_SYNC_STATUS } from './src/sync-status.ts';

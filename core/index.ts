/**
 * The public surface of `core/`: what two or more processes share. A table of contents
 * only; the code lives in `src/`.
 */
export * from './src/errors.ts';
export * from './src/options/index.ts';
export * from './src/logging.ts';
export * from './src/lifecycle.ts';
export { AdminServer } from './src/admin/admin-server.ts';
export type { AdminSources, Readiness } from './src/admin/admin-server.ts';
export { TokenBucket } from './src/token-bucket.ts';

export type * from './src/store/types.ts';
export { MAX_KEY_BYTES, MAX_TXN_OPS, MAX_VALUE_BYTES } from './src/store/types.ts';
export {
  validateKey,
  validatePrefix,
  validateSession,
  validateTxnOps,
  validateUint,
  validateValue,
} from './src/store/validate.ts';
export { rollUp } from './src/store/listing.ts';
export { openStore } from './src/store/open-store.ts';
export type { OpenStoreOptions, StoreLogger } from './src/store/open-store.ts';
export { EmbeddedStore, openEmbeddedStore } from './src/store/embedded/embedded-store.ts';
export type {
  EmbeddedStoreOptions,
  EmbeddedStoreStats,
} from './src/store/embedded/embedded-store.ts';
export { RedisStore, openRedisStore, parseRedisUrl } from './src/store/redis/redis-store.ts';
export type { RedisStoreOptions } from './src/store/redis/redis-store.ts';

export * from './src/catalog/types.ts';
export * from './src/catalog/validate.ts';
export * from './src/catalog/keys.ts';
export * from './src/catalog/codec.ts';
export * from './src/catalog/catalog-writer.ts';
export * from './src/catalog/snapshot.ts';
export { aggregateHealth } from './src/catalog/health.ts';
export * from './src/ca/index.ts';
export { loadIdentityFiles } from './src/ca/identity-files.ts';
export type { IdentityFiles } from './src/ca/identity-files.ts';
export * from './src/proxy-config/index.ts';
export * from './src/gateway-config/index.ts';
export * from './src/config-entries/index.ts';
export * from './src/federation/resources.ts';
export type * from './src/federation/sync-status.ts';
export * from './src/federation/zone-token.ts';
export * from './src/federation/index.ts';

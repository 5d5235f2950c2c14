export type * from './types.ts';
export {
  CONFIG_ENTRY_KINDS,
  ENTRY_PROTOCOLS,
  EXPORTED_SERVICES_NAME,
  RESOLVER_LB_POLICIES,
} from './types.ts';
export {
  checkEntryName,
  checkKind,
  decodeConfigEntry,
  intentionPrecedence,
  isConfigEntryKind,
} from './decode.ts';
export { matchesSubset, parseSubsetFilter } from './subset-filter.ts';
export type { FilterTarget, SubsetClause } from './subset-filter.ts';
export * from './entry-store.ts';
export { ConfigEntrySet, readConfigEntrySet } from './entry-set.ts';
export { exportResourceName, exportsOf } from './exports.ts';

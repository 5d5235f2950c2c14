export type * from './types.ts';
export { CONFIG_ENTRY_KINDS, ENTRY_PROTOCOLS, RESOLVER_LB_POLICIES } from './types.ts';
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

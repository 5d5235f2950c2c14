export type * from './types.ts';
export { LB_POLICIES, LISTENER_PROTOCOLS, RETRY_ON } from './types.ts';
export * from './defaults.ts';
export { decodeProxyConfig } from './decode.ts';

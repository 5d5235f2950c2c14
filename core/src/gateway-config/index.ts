export type * from './types.ts';
export { defaultTunnelSettings } from './defaults.ts';
export { decodeGatewayConfig } from './decode.ts';

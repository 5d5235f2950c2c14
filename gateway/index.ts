/**
 * The east-west gateway's public surface.
 */
export { gatewayMain } from './main.ts';
export { Gateway } from './src/gateway.ts';
export type { GatewayOptions, TunnelsView } from './src/gateway.ts';
export { GatewayMetrics } from './src/metrics.ts';
export { GatewayTls } from './src/identity/gateway-tls.ts';
export type { GatewayIdentityMaterial, GatewayPeerIdentity } from './src/identity/gateway-tls.ts';
export { GatewayAdminServer } from './src/admin/admin-server.ts';
export type { GatewayAdminSource } from './src/admin/admin-server.ts';
export { createGatewayProcess } from './src/create-gateway.ts';
export type { GatewayProcess } from './src/create-gateway.ts';
export { loadGatewayBootstrap } from './src/bootstrap.ts';
export type { GatewayBootstrap } from './src/bootstrap.ts';
export { resolveGatewayCliOptions } from './src/options.ts';
export type { GatewayCliOptions, ResolvedGatewayCliOptions } from './src/options.ts';

/**
 * The sidecar proxy's public surface.
 */
export { proxyMain } from './main.ts';
export { createProxy } from './src/proxy.ts';
export type { Proxy, ProxyDeps } from './src/proxy.ts';
export { resolveProxyOptions } from './src/options.ts';
export type { ProxyOptions, ResolvedProxyOptions } from './src/options.ts';
export { loadBootstrap } from './src/bootstrap.ts';
export type { Bootstrap } from './src/bootstrap.ts';

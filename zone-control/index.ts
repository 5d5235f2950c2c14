/**
 * The zone control plane's public surface.
 */
export { zoneMain } from './main.ts';
export { createZone } from './src/zone.ts';
export type { Zone } from './src/zone.ts';
export { resolveZoneOptions } from './src/options.ts';
export type { ResolvedZoneOptions, ZoneOptions } from './src/options.ts';

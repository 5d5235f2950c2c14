/**
 * What a zone exports, in the shape zone sync sends to the global control plane: one
 * `export` resource per exported service (`core/src/federation/resources.ts`), made from
 * the zone's exported-services entry. Global then tells each consuming zone about the
 * service (`remote-service`); a zone not listed never learns it exists.
 */
import type { ExportResource } from '../federation/resources.ts';
import type { ConfigEntrySet } from './entry-set.ts';
import { EXPORTED_SERVICES_NAME } from './types.ts';
import type { ExportedServicesEntry } from './types.ts';

/**
 * The zone's exports, sorted by namespace then service. Consumers are the listed zones,
 * sorted, or `['*']` alone when any consumer is `*` (every zone). No entry: nothing is
 * exported.
 *
 * @param source - the zone's config entries, or its exported-services entry itself.
 */
export function exportsOf(
  source: ConfigEntrySet | ExportedServicesEntry | undefined,
): ExportResource[] {
  const entry =
    source === undefined || 'Kind' in source
      ? source
      : source.get('exported-services', 'default', EXPORTED_SERVICES_NAME);
  if (!entry) return [];
  return entry.Services.map((s): ExportResource => {
    const zones = s.Consumers.map((c) => c.Zone);
    return {
      service: s.Name,
      namespace: s.Namespace,
      consumers: zones.includes('*') ? ['*'] : [...new Set(zones)].sort(compare),
    };
  }).sort((a, b) => compare(a.namespace, b.namespace) || compare(a.service, b.service));
}

/** The name zone sync gives an `export` resource: `<namespace>/<service>`. */
export function exportResourceName(e: Pick<ExportResource, 'namespace' | 'service'>): string {
  return `${e.namespace}/${e.service}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

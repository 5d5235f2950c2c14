/**
 * Decoding Consul's `exported-services` entry, with consumers named by zone. Consul's
 * consumers name a cluster `Peer`, an admin `Partition` or a `SamenessGroup`; in Causeway
 * the unit another zone is, so a consumer is `{ "Zone": "west" }` or `{ "Zone": "*" }`
 * and the other three are refused, naming the field.
 */
import { EntryFields, badField, checkEntryName } from './fields.ts';
import { EXPORTED_SERVICES_NAME } from './types.ts';
import type { ExportConsumer, ExportedService, ExportedServicesEntry } from './types.ts';

const MAX_SERVICES = 1024;
const MAX_CONSUMERS = 256;

const UNSUPPORTED_CONSUMER: Record<string, string> = {
  Peer: 'name the consuming zone with Zone',
  Partition: 'Causeway has no admin partitions; name the consuming zone with Zone',
  SamenessGroup: 'Causeway has no sameness groups; name the consuming zone with Zone',
};

/**
 * @param base - the entry's checked `Name`, `Namespace` and `Meta`.
 */
export function decodeExportedServices(
  f: EntryFields,
  base: { Name: string; Namespace: string; Meta?: Record<string, string> },
): ExportedServicesEntry {
  if (base.Name !== EXPORTED_SERVICES_NAME) {
    throw badField(
      'Name',
      `must be "${EXPORTED_SERVICES_NAME}": a zone has one exported-services entry, as a ` +
        `Consul partition has one (got ${JSON.stringify(base.Name)})`,
    );
  }
  if (base.Namespace !== 'default') {
    throw badField(
      'Namespace',
      'must be "default" or left out: the entry covers every namespace; ' +
        "name a service's namespace in Services[].Namespace",
    );
  }
  const raw = f.optionalList('Services', MAX_SERVICES) ?? [];
  const seen = new Set<string>();
  const services = raw.map((s, i): ExportedService => {
    const sf = new EntryFields(s, `Services[${i}]`, ['Name', 'Namespace', 'Consumers']);
    const name = sf.optionalText('Name', 63);
    if (name === undefined) throw badField(sf.field('Name'), 'is required (a service name)');
    if (name === '*') {
      throw badField(
        sf.field('Name'),
        'may not be "*" in Causeway: export each service by name, so that a new service is ' +
          'never reachable from other zones by accident',
      );
    }
    checkEntryName(name, sf.field('Name'));
    const nsText = sf.optionalText('Namespace', 63);
    const namespace =
      nsText === undefined ? 'default' : checkEntryName(nsText, sf.field('Namespace'));
    const key = `${namespace}/${name}`;
    if (seen.has(key)) {
      throw badField(`Services[${i}]`, `exports ${key} again; list its consumers once`);
    }
    seen.add(key);
    return { Name: name, Namespace: namespace, Consumers: consumers(sf) };
  });
  return { Kind: 'exported-services', ...base, Services: services };
}

function consumers(sf: EntryFields): ExportConsumer[] {
  const raw = sf.optionalList('Consumers', MAX_CONSUMERS);
  if (!raw || raw.length === 0) {
    throw badField(
      sf.field('Consumers'),
      'must list at least one consumer ({ "Zone": "west" } or { "Zone": "*" })',
    );
  }
  const seen = new Set<string>();
  return raw.map((c, j): ExportConsumer => {
    const cf = new EntryFields(c, `${sf.field('Consumers')}[${j}]`, [
      'Zone',
      ...Object.keys(UNSUPPORTED_CONSUMER),
    ]);
    for (const [name, hint] of Object.entries(UNSUPPORTED_CONSUMER)) {
      if (cf.optionalText(name) !== undefined) {
        throw badField(cf.field(name), `is not supported by Causeway; ${hint}`);
      }
    }
    const zone = cf.optionalText('Zone', 63);
    if (zone === undefined) {
      throw badField(cf.field('Zone'), 'is required (a zone name, or "*" for every zone)');
    }
    checkEntryName(zone, cf.field('Zone'), true);
    if (seen.has(zone)) throw badField(cf.field('Zone'), `repeats zone ${JSON.stringify(zone)}`);
    seen.add(zone);
    return { Zone: zone };
  });
}

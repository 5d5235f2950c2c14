/**
 * The cross-zone parts of a service-resolver: Consul's `Failover` stanza, with targets
 * named by zone, and Causeway's `ZoneWeights`. Consul's failover targets name a
 * `Datacenter`, a cluster `Peer` or a `Partition`, and may redirect to another service,
 * subset or namespace; a Causeway zone plays the peer's part, and the other kinds of
 * target are refused (naming the field) rather than silently ignored, so an entry never
 * promises a failover the zone cannot build.
 */
import { EntryFields, badField, checkEntryName, typeName } from './fields.ts';
import type { FailoverTarget, ResolverFailover } from './types.ts';

/** More failover tiers than this would not fit a proxy's priorities (0-100). */
const MAX_TARGETS = 32;
const MAX_ZONES = 64;

/** Consul failover fields Causeway does not act on, and what to write instead. */
const UNSUPPORTED_FAILOVER: Record<string, string> = {
  Service: 'fails over to the same service in another zone only; list zones in Targets',
  ServiceSubset: 'fails over to the same service in another zone only; list zones in Targets',
  Namespace: 'fails over to the same namespace in another zone only; list zones in Targets',
  SamenessGroup: 'has no sameness groups; list zones in Targets',
  Datacenters: 'has zones rather than datacenters; list them in Targets as { "Zone": "…" }',
  Policy: 'orders failover by Targets only',
};

const UNSUPPORTED_TARGET: Record<string, string> = {
  Peer: 'names a peer zone with Zone',
  Datacenter: 'names a zone with Zone',
  Partition: 'has no admin partitions; name a zone with Zone',
  Service: 'fails over to the same service; name a zone with Zone',
  ServiceSubset: 'fails over to the whole service; name a zone with Zone',
  Namespace: 'fails over to the same namespace; name a zone with Zone',
};

/**
 * `Failover`: only the `*` key (every subset), whose `Targets` each name one `Zone`.
 * A subset's own failover is refused: zone sync carries a count of healthy instances per
 * service, not per subset, so another zone cannot be asked for "v2 only".
 */
export function decodeFailover(f: EntryFields): Record<string, ResolverFailover> | undefined {
  const raw = f.get('Failover');
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw badField('Failover', `must be an object keyed by "*", got ${typeName(raw)}`);
  }
  const out: Record<string, ResolverFailover> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const at = `Failover.${key}`;
    if (key !== '*') {
      throw badField(
        at,
        'is not supported by Causeway: failover applies to the whole service, so key it "*" ' +
          '(other zones report healthy instances per service, not per subset)',
      );
    }
    const ff = new EntryFields(value, at, ['Targets', ...Object.keys(UNSUPPORTED_FAILOVER)]);
    for (const [name, hint] of Object.entries(UNSUPPORTED_FAILOVER)) {
      if (ff.has(name) && !isEmpty(ff.get(name))) {
        throw badField(ff.field(name), `is not supported by Causeway, which ${hint}`);
      }
    }
    const targets = ff.optionalList('Targets', MAX_TARGETS);
    if (!targets || targets.length === 0) {
      throw badField(ff.field('Targets'), 'must list at least one target zone ({ "Zone": "…" })');
    }
    const seen = new Set<string>();
    out[key] = {
      Targets: targets.map((t, i): FailoverTarget => {
        const tf = new EntryFields(t, `${ff.field('Targets')}[${i}]`, [
          'Zone',
          ...Object.keys(UNSUPPORTED_TARGET),
        ]);
        for (const [name, hint] of Object.entries(UNSUPPORTED_TARGET)) {
          if (tf.has(name) && !isEmpty(tf.get(name))) {
            throw badField(tf.field(name), `is not supported by Causeway, which ${hint}`);
          }
        }
        const zone = tf.optionalText('Zone', 63);
        if (zone === undefined) throw badField(tf.field('Zone'), 'is required (a zone name)');
        checkEntryName(zone, tf.field('Zone'));
        if (seen.has(zone))
          throw badField(tf.field('Zone'), `repeats zone ${JSON.stringify(zone)}`);
        seen.add(zone);
        return { Zone: zone };
      }),
    };
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** `ZoneWeights`: zone → integer weight 0-100, at least one of them positive. */
export function decodeZoneWeights(f: EntryFields): Record<string, number> | undefined {
  const raw = f.get('ZoneWeights');
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw badField('ZoneWeights', `must be an object of weights by zone, got ${typeName(raw)}`);
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > MAX_ZONES)
    throw badField('ZoneWeights', `must have at most ${MAX_ZONES} zones`);
  if (entries.length === 0) return undefined;
  const out: Record<string, number> = {};
  for (const [zone, weight] of entries) {
    const at = `ZoneWeights.${zone}`;
    checkEntryName(zone, at);
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 100) {
      throw badField(at, `must be an integer from 0 to 100, got ${JSON.stringify(weight)}`);
    }
    out[zone] = weight;
  }
  if (Object.values(out).every((w) => w === 0)) {
    throw badField('ZoneWeights', 'must give at least one zone a positive weight');
  }
  return out;
}

/** Consul clients send empty values for fields they do not use (`"Peer": ""`, `[]`). */
function isEmpty(v: unknown): boolean {
  return (
    v === '' ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && v !== null && Object.keys(v).length === 0)
  );
}

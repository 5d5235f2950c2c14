/**
 * The zone plan (which zones a cluster uses, at which priority) and the small helpers of
 * cross-zone endpoints; the endpoints themselves are pinned by the snapshot builder's
 * golden cases.
 */
import { expect } from 'chai';
import { decodeConfigEntry } from '../../../core/index.ts';
import type { ServiceResolverEntry } from '../../../core/index.ts';
import {
  applyZoneShares,
  hostOf,
  zonePlan,
} from '../../../zone-control/src/proxy-stream/zone-endpoints.ts';
import type { ZonePlan } from '../../../zone-control/src/proxy-stream/zone-endpoints.ts';

function resolver(fields: Record<string, unknown>): ServiceResolverEntry {
  return decodeConfigEntry({
    Kind: 'service-resolver',
    Name: 'api',
    ...fields,
  }) as ServiceResolverEntry;
}

/** zone → "priority" or "priority×share", or "-" when the zone is not used. */
function tiers(plan: ZonePlan, zones: string[]): Record<string, string> {
  return Object.fromEntries(
    zones.map((z) => {
      const t = plan(z);
      return [
        z,
        t === undefined ? '-' : `${t.priority}${t.share === undefined ? '' : `×${t.share}`}`,
      ];
    }),
  );
}

const ZONES = ['east', 'west', 'central', 'south'];

describe('zone plan', function () {
  it('puts the local zone first and every other zone next without a resolver', function () {
    expect(tiers(zonePlan('east', undefined), ZONES)).to.deep.equal({
      east: '0',
      west: '1',
      central: '1',
      south: '1',
    });
  });

  it('follows the failover targets in order and uses no other zone', function () {
    const plan = zonePlan(
      'east',
      resolver({
        Failover: { '*': { Targets: [{ Zone: 'central' }, { Zone: 'east' }, { Zone: 'west' }] } },
      }),
    );
    // The local zone listed among targets stays first.
    expect(tiers(plan, ZONES)).to.deep.equal({ east: '0', west: '2', central: '1', south: '-' });
  });

  it('shares the first priority among weighted zones, never uses a zone weighted 0, and puts the rest after', function () {
    expect(
      tiers(zonePlan('east', resolver({ ZoneWeights: { east: 60, west: 40, south: 0 } })), ZONES),
    ).to.deep.equal({ east: '0×60', west: '0×40', central: '1', south: '-' });
  });

  it('falls back to an unweighted local zone before the failover targets', function () {
    const plan = zonePlan(
      'east',
      resolver({
        ZoneWeights: { west: 100, central: 0 },
        Failover: { '*': { Targets: [{ Zone: 'central' }, { Zone: 'south' }] } },
      }),
    );
    // central is weighted 0: not even a failover target.
    expect(tiers(plan, ZONES)).to.deep.equal({
      east: '1',
      west: '0×100',
      central: '-',
      south: '2',
    });
  });

  it('never uses a local zone weighted 0', function () {
    expect(
      tiers(zonePlan('east', resolver({ ZoneWeights: { east: 0, west: 1 } })), ZONES),
    ).to.deep.equal({
      east: '-',
      west: '0×1',
      central: '1',
      south: '1',
    });
  });
});

describe('zone shares', function () {
  it('gives each weighted zone its share of the first priority, split by endpoint weight, health counted', function () {
    const plan = zonePlan('east', resolver({ ZoneWeights: { east: 50, west: 50 } }));
    const e = (zone: string, weight: number, health: 'passing' | 'critical' = 'passing') => ({
      address: '10.0.0.1',
      port: 1,
      zone,
      priority: 0,
      health,
      weight,
      instanceId: 'x',
    });
    const out = applyZoneShares(
      [e('east', 1), e('east', 1, 'critical'), e('west', 9), e('central', 4)],
      plan,
    );
    expect(out.map((x) => x.weight)).to.deep.equal([250_000, 250_000, 500_000, 4]);
  });
});

describe('hostOf', function () {
  it('takes the host from host:port and [v6]:port, and leaves a bare host alone', function () {
    expect(hostOf('gw.west.example:8443')).to.equal('gw.west.example');
    expect(hostOf('198.51.100.7:443')).to.equal('198.51.100.7');
    expect(hostOf('[2001:db8::1]:443')).to.equal('2001:db8::1');
    expect(hostOf('2001:db8::1')).to.equal('2001:db8::1');
    expect(hostOf('gw.west.example')).to.equal('gw.west.example');
  });
});

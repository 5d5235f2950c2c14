/**
 * service-resolver's cross-zone fields: `Failover["*"].Targets[].Zone` and `ZoneWeights`.
 * Every refusal names the field, and the message says what to write instead.
 */
import { expect } from 'chai';
import { InvalidArgumentError, decodeConfigEntry } from '../../../core/index.ts';

function refusal(body: unknown): InvalidArgumentError {
  try {
    decodeConfigEntry(body);
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidArgumentError);
    expect((err as Error).message).to.match(/^Request decoding failed: /);
    return err as InvalidArgumentError;
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
}

const resolver = (fields: Record<string, unknown>): Record<string, unknown> => ({
  Kind: 'service-resolver',
  Name: 'api',
  ...fields,
});

describe('service-resolver failover by zone and zone weights', function () {
  it('keeps failover targets in order and zone weights as written, in canonical spelling', function () {
    expect(
      decodeConfigEntry(
        resolver({
          failover: { '*': { targets: [{ zone: 'west' }, { Zone: 'central', Peer: '' }] } },
          zone_weights: { east: 70, west: 30, south: 0 },
        }),
      ),
    ).to.deep.equal({
      Kind: 'service-resolver',
      Name: 'api',
      Namespace: 'default',
      Failover: { '*': { Targets: [{ Zone: 'west' }, { Zone: 'central' }] } },
      ZoneWeights: { east: 70, west: 30, south: 0 },
    });
  });

  it('accepts the empty values Consul clients send for the fields they do not use', function () {
    const entry = decodeConfigEntry(
      resolver({
        Failover: {
          '*': {
            Service: '',
            Datacenters: [],
            Targets: [{ Zone: 'west', Datacenter: '', Partition: '', Namespace: '' }],
          },
        },
      }),
    );
    expect(entry).to.deep.include({ Failover: { '*': { Targets: [{ Zone: 'west' }] } } });
  });

  const cases: [string, unknown, string, RegExp][] = [
    [
      'a failover keyed by a subset',
      resolver({
        Subsets: { v1: {} },
        Failover: { v1: { Targets: [{ Zone: 'west' }] } },
      }),
      'Failover.v1',
      /key it "\*"/,
    ],
    ['a failover that is a list', resolver({ Failover: [] }), 'Failover', /object/],
    [
      'a failover without targets',
      resolver({ Failover: { '*': { Targets: [] } } }),
      'Failover.*.Targets',
      /at least one target zone/,
    ],
    [
      'a failover to datacenters',
      resolver({ Failover: { '*': { Datacenters: ['dc2'] } } }),
      'Failover.*.Datacenters',
      /Targets as \{ "Zone"/,
    ],
    [
      'a failover to another service',
      resolver({ Failover: { '*': { Service: 'api-backup', Targets: [{ Zone: 'west' }] } } }),
      'Failover.*.Service',
      /same service/,
    ],
    [
      'a failover to a sameness group',
      resolver({ Failover: { '*': { SamenessGroup: 'prod' } } }),
      'Failover.*.SamenessGroup',
      /sameness groups/,
    ],
    [
      'a failover policy',
      resolver({ Failover: { '*': { Policy: { Mode: 'order-by-locality' } } } }),
      'Failover.*.Policy',
      /Targets only/,
    ],
    [
      'a target naming a peer',
      resolver({ Failover: { '*': { Targets: [{ Peer: 'west' }] } } }),
      'Failover.*.Targets[0].Peer',
      /with Zone/,
    ],
    [
      'a target naming a datacenter',
      resolver({ Failover: { '*': { Targets: [{ Zone: 'west' }, { Datacenter: 'dc2' }] } } }),
      'Failover.*.Targets[1].Datacenter',
      /with Zone/,
    ],
    [
      'a target naming a partition',
      resolver({ Failover: { '*': { Targets: [{ Partition: 'p1' }] } } }),
      'Failover.*.Targets[0].Partition',
      /admin partitions/,
    ],
    [
      'a target naming a service',
      resolver({ Failover: { '*': { Targets: [{ Zone: 'west', Service: 'x' }] } } }),
      'Failover.*.Targets[0].Service',
      /same service/,
    ],
    [
      'a target naming a subset',
      resolver({ Failover: { '*': { Targets: [{ Zone: 'west', ServiceSubset: 'v1' }] } } }),
      'Failover.*.Targets[0].ServiceSubset',
      /whole service/,
    ],
    [
      'a target naming a namespace',
      resolver({ Failover: { '*': { Targets: [{ Zone: 'west', Namespace: 'other' }] } } }),
      'Failover.*.Targets[0].Namespace',
      /same namespace/,
    ],
    [
      'a target without a zone',
      resolver({ Failover: { '*': { Targets: [{}] } } }),
      'Failover.*.Targets[0].Zone',
      /is required/,
    ],
    [
      'a target zone that is not a DNS label',
      resolver({ Failover: { '*': { Targets: [{ Zone: 'West_1' }] } } }),
      'Failover.*.Targets[0].Zone',
      /DNS label/,
    ],
    [
      'a target zone listed twice',
      resolver({ Failover: { '*': { Targets: [{ Zone: 'west' }, { Zone: 'west' }] } } }),
      'Failover.*.Targets[1].Zone',
      /repeats zone "west"/,
    ],
    [
      'an unknown target field',
      resolver({ Failover: { '*': { Targets: [{ Zone: 'west', Region: 'eu' }] } } }),
      'Failover.*.Targets[0].Region',
      /not a known field/,
    ],
    [
      'more targets than a proxy has priorities for',
      resolver({
        Failover: { '*': { Targets: Array.from({ length: 33 }, (_, i) => ({ Zone: `z${i}` })) } },
      }),
      'Failover.*.Targets',
      /at most 32/,
    ],
    ['zone weights that are a list', resolver({ ZoneWeights: [] }), 'ZoneWeights', /object/],
    [
      'a zone weight over 100',
      resolver({ ZoneWeights: { east: 101 } }),
      'ZoneWeights.east',
      /integer from 0 to 100/,
    ],
    [
      'a fractional zone weight',
      resolver({ ZoneWeights: { east: 50.5, west: 49.5 } }),
      'ZoneWeights.east',
      /integer/,
    ],
    [
      'a zone weight given as a string',
      resolver({ ZoneWeights: { east: '50' } }),
      'ZoneWeights.east',
      /integer/,
    ],
    [
      'a weighted zone that is not a DNS label',
      resolver({ ZoneWeights: { East: 50 } }),
      'ZoneWeights.East',
      /DNS label/,
    ],
    [
      'zone weights that are all 0',
      resolver({ ZoneWeights: { east: 0, west: 0 } }),
      'ZoneWeights',
      /at least one zone a positive weight/,
    ],
  ];
  for (const [what, body, field, message] of cases) {
    it(`refuses ${what}, naming ${field}`, function () {
      const err = refusal(body);
      expect(err.field).to.equal(field);
      expect(err.message).to.include(field);
      expect(err.message).to.match(message);
    });
  }
});

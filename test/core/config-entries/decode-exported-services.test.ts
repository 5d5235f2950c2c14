/**
 * The exported-services entry: one per zone, named `default`, services exported to named
 * zones or to every zone. Consul's other kinds of consumer are refused, naming the field.
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

const exported = (services: unknown, fields: Record<string, unknown> = {}): unknown => ({
  Kind: 'exported-services',
  Name: 'default',
  Services: services,
  ...fields,
});

describe('exported-services entry decoding', function () {
  it('normalises services and consumers, filling namespaces', function () {
    expect(
      decodeConfigEntry({
        kind: 'exported-services',
        name: 'default',
        meta: { owner: 'team-a' },
        services: [
          { name: 'api', consumers: [{ zone: 'west' }, { Zone: 'central' }] },
          { Name: 'billing', Namespace: 'finance', Consumers: [{ Zone: '*', Peer: '' }] },
        ],
      }),
    ).to.deep.equal({
      Kind: 'exported-services',
      Name: 'default',
      Namespace: 'default',
      Meta: { owner: 'team-a' },
      Services: [
        { Name: 'api', Namespace: 'default', Consumers: [{ Zone: 'west' }, { Zone: 'central' }] },
        { Name: 'billing', Namespace: 'finance', Consumers: [{ Zone: '*' }] },
      ],
    });
  });

  it('accepts an entry that exports nothing', function () {
    expect(decodeConfigEntry(exported([]))).to.deep.include({ Services: [] });
    expect(
      decodeConfigEntry({ Kind: 'exported-services', Name: 'default', Namespace: 'default' }),
    ).to.deep.include({ Services: [] });
  });

  const cases: [string, unknown, string, RegExp][] = [
    [
      'a name other than default',
      { Kind: 'exported-services', Name: 'east' },
      'Name',
      /one exported-services entry/,
    ],
    [
      'a namespace other than default',
      { Kind: 'exported-services', Name: 'default', Namespace: 'finance', Services: [] },
      'Namespace',
      /Services\[\]\.Namespace/,
    ],
    ['an admin partition', exported([], { Partition: 'p1' }), 'Partition', /admin partitions/],
    ['services that are not a list', exported({ api: {} }), 'Services', /must be a list/],
    [
      'a service without a name',
      exported([{ Consumers: [{ Zone: 'west' }] }]),
      'Services[0].Name',
      /is required/,
    ],
    [
      'a wildcard service',
      exported([{ Name: '*', Consumers: [{ Zone: 'west' }] }]),
      'Services[0].Name',
      /export each service by name/,
    ],
    [
      'a service name that is not a DNS label',
      exported([{ Name: 'Api', Consumers: [{ Zone: 'west' }] }]),
      'Services[0].Name',
      /DNS label/,
    ],
    [
      'a wildcard namespace',
      exported([{ Name: 'api', Namespace: '*', Consumers: [{ Zone: 'west' }] }]),
      'Services[0].Namespace',
      /DNS label/,
    ],
    [
      'a service exported twice',
      exported([
        { Name: 'api', Consumers: [{ Zone: 'west' }] },
        { Name: 'api', Namespace: 'default', Consumers: [{ Zone: 'central' }] },
      ]),
      'Services[1]',
      /exports default\/api again/,
    ],
    [
      'a service without consumers',
      exported([{ Name: 'api' }]),
      'Services[0].Consumers',
      /at least one consumer/,
    ],
    [
      'an empty consumer list',
      exported([{ Name: 'api', Consumers: [] }]),
      'Services[0].Consumers',
      /at least one consumer/,
    ],
    [
      'a peer consumer',
      exported([{ Name: 'api', Consumers: [{ Peer: 'west' }] }]),
      'Services[0].Consumers[0].Peer',
      /not supported by Causeway; name the consuming zone with Zone/,
    ],
    [
      'a partition consumer',
      exported([{ Name: 'api', Consumers: [{ Zone: 'west' }, { Partition: 'p1' }] }]),
      'Services[0].Consumers[1].Partition',
      /admin partitions/,
    ],
    [
      'a sameness group consumer',
      exported([{ Name: 'api', Consumers: [{ SamenessGroup: 'prod' }] }]),
      'Services[0].Consumers[0].SamenessGroup',
      /sameness groups/,
    ],
    [
      'a consumer without a zone',
      exported([{ Name: 'api', Consumers: [{}] }]),
      'Services[0].Consumers[0].Zone',
      /is required/,
    ],
    [
      'a consumer zone that is not a DNS label',
      exported([{ Name: 'api', Consumers: [{ Zone: 'West' }] }]),
      'Services[0].Consumers[0].Zone',
      /DNS label.* or "\*"/,
    ],
    [
      'a consumer zone listed twice',
      exported([{ Name: 'api', Consumers: [{ Zone: 'west' }, { Zone: 'west' }] }]),
      'Services[0].Consumers[1].Zone',
      /repeats zone "west"/,
    ],
    [
      'an unknown consumer field',
      exported([{ Name: 'api', Consumers: [{ Zone: 'west', Datacenter: 'dc2' }] }]),
      'Services[0].Consumers[0].Datacenter',
      /not a known field/,
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

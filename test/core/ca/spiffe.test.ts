import { expect } from 'chai';
import {
  formatSpiffeId,
  isDnsLabel,
  isSpiffeId,
  parseSpiffeId,
  zonePrefix,
} from '../../../core/src/ca/spiffe.ts';
import { InvalidArgumentError } from '../../../core/src/errors.ts';

describe('ca/spiffe', function () {
  it('formats and parses workload, gateway and control IDs', function () {
    const cases = [
      {
        kind: 'workload',
        trustDomain: 'mesh.test',
        zone: 'east',
        namespace: 'shop',
        service: 'api',
      },
      { kind: 'gateway', trustDomain: 'mesh.test', zone: 'east', name: 'ingress-1' },
      { kind: 'control', trustDomain: 'mesh.test', zone: 'west' },
    ] as const;
    const rendered = cases.map((c) => formatSpiffeId(c));
    expect(rendered).to.deep.equal([
      'spiffe://mesh.test/zone/east/ns/shop/svc/api',
      'spiffe://mesh.test/zone/east/gateway/ingress-1',
      'spiffe://mesh.test/zone/west/control',
    ]);
    expect(rendered.map((r) => parseSpiffeId(r))).to.deep.equal(cases);
  });

  it('gives the zone prefix every identity of a zone starts with', function () {
    expect(zonePrefix('mesh.test', 'east')).to.equal('spiffe://mesh.test/zone/east/');
  });

  const bad: [unknown, string][] = [
    [42, 'spiffeId'],
    ['https://mesh.test/zone/east/control', 'spiffeId'],
    ['spiffe://Mesh.Test/zone/east/control', 'spiffeId.trustDomain'],
    ['spiffe://mesh.test/zone/East/control', 'spiffeId.zone'],
    ['spiffe://mesh.test/zone/east/ns/shop/svc/api_v2', 'spiffeId.service'],
    ['spiffe://mesh.test/zone/east/ns/-x/svc/api', 'spiffeId.namespace'],
    ['spiffe://mesh.test/zone/east/gateway/', 'spiffeId.name'],
    ['spiffe://mesh.test/zone/east/ns/shop/svc/api/extra', 'spiffeId'],
    ['spiffe://mesh.test/zone/east/control?x=1', 'spiffeId'],
  ];
  for (const [value, field] of bad) {
    it(`refuses ${JSON.stringify(value)} naming ${field}`, function () {
      expect(() => parseSpiffeId(value))
        .to.throw(InvalidArgumentError)
        .with.property('field', field);
      expect(isSpiffeId(value)).to.equal(false);
    });
  }

  it('takes lowercase DNS labels of 1-63 characters as names and nothing else', function () {
    for (const ok of ['a', 'web', 'web-2', '0', 'a'.repeat(63)]) {
      expect(isDnsLabel(ok), ok).to.equal(true);
    }
    for (const bad of ['', 'Web', '-web', 'web-', 'a.b', 'a_b', 'a'.repeat(64), 7, undefined]) {
      expect(isDnsLabel(bad), String(bad)).to.equal(false);
    }
  });

  it('refuses to format an ID with a bad part, naming the field', function () {
    expect(() =>
      formatSpiffeId({
        kind: 'workload',
        trustDomain: 'mesh.test',
        zone: 'east',
        namespace: 'a',
        service: 'B',
      }),
    )
      .to.throw(InvalidArgumentError)
      .with.property('field', 'service');
  });
});

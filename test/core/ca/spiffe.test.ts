import { expect } from 'chai';
import {
  formatSpiffeId,
  globalSpiffeId,
  isDnsLabel,
  isSpiffeId,
  parseAnySpiffeId,
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

describe('ca/spiffe: the global control plane identity', function () {
  it('formats spiffe://<td>/global and parses it only where a global ID is allowed', function () {
    const id = formatSpiffeId({ kind: 'global', trustDomain: 'mesh.test' });
    expect(id).to.equal('spiffe://mesh.test/global');
    expect(globalSpiffeId('mesh.test')).to.equal(id);
    expect(parseAnySpiffeId(id)).to.deep.equal({ kind: 'global', trustDomain: 'mesh.test' });
    // Zone identities parse the same through either function.
    const control = 'spiffe://mesh.test/zone/east/control';
    expect(parseAnySpiffeId(control)).to.deep.equal(parseSpiffeId(control));
  });

  it('is refused where a zone identity is expected, saying why', function () {
    expect(() => parseSpiffeId('spiffe://mesh.test/global', 'peer'))
      .to.throw(InvalidArgumentError, "global control plane's identity")
      .with.property('field', 'peer');
    expect(isSpiffeId('spiffe://mesh.test/global')).to.equal(false);
  });

  it('validates the trust domain of a global ID', function () {
    expect(() => parseAnySpiffeId('spiffe://Mesh.Test/global'))
      .to.throw(InvalidArgumentError)
      .with.property('field', 'spiffeId.trustDomain');
    expect(() => formatSpiffeId({ kind: 'global', trustDomain: 'bad domain' })).to.throw(
      InvalidArgumentError,
    );
    expect(() => parseAnySpiffeId('spiffe://mesh.test/global/extra')).to.throw(
      InvalidArgumentError,
    );
  });
});

import { expect } from 'chai';
import { CorruptDataError } from '../../../core/src/errors.ts';
import {
  checkKey,
  decodeSegment,
  encodeSegment,
  nodeKey,
  parseCatalogKey,
  serviceKey,
} from '../../../core/src/catalog/keys.ts';
import { aggregateHealth } from '../../../core/src/catalog/health.ts';

describe('catalog keys', function () {
  it('lays records out under catalog/node, catalog/service and catalog/check', function () {
    expect(nodeKey('node-1')).to.equal('catalog/node/node-1');
    expect(serviceKey('node-1', 'web-1')).to.equal('catalog/service/node-1/web-1');
    expect(checkKey('node-1', 'service:web-1')).to.equal('catalog/check/node-1/service:web-1');
  });

  it('escapes "/" and "%" so any ID stays one segment, and reads it back', function () {
    for (const name of ['a/b', '100%', 'a%2Fb', '/', 'plain']) {
      const encoded = encodeSegment(name);
      expect(encoded).not.to.include('/');
      expect(decodeSegment(encoded)).to.equal(name);
      expect(parseCatalogKey(serviceKey('n/1', name))).to.deep.equal({
        kind: 'service',
        node: 'n/1',
        id: name,
      });
    }
  });

  it('parses each kind of key', function () {
    expect(parseCatalogKey('catalog/node/n')).to.deep.equal({ kind: 'node', node: 'n' });
    expect(parseCatalogKey('catalog/check/n/c')).to.deep.equal({
      kind: 'check',
      node: 'n',
      id: 'c',
    });
  });

  it('refuses keys outside the layout', function () {
    for (const key of ['catalog/node/', 'catalog/service/n', 'catalog/check/n/c/x', 'kv/a']) {
      expect(() => parseCatalogKey(key), key).to.throw(CorruptDataError);
    }
  });
});

describe('aggregated health', function () {
  it('is the worst status, and passing without checks', function () {
    expect(aggregateHealth([])).to.equal('passing');
    expect(aggregateHealth([{ status: 'passing' }, { status: 'warning' }])).to.equal('warning');
    expect(
      aggregateHealth([{ status: 'critical' }, { status: 'warning' }, { status: 'passing' }]),
    ).to.equal('critical');
  });
});

import { expect } from 'chai';
import {
  ConfigEntrySet,
  decodeConfigEntry,
  exportResourceName,
  exportsOf,
} from '../../../core/index.ts';
import type { ExportedServicesEntry } from '../../../core/index.ts';

const entry = decodeConfigEntry({
  Kind: 'exported-services',
  Name: 'default',
  Services: [
    { Name: 'web', Consumers: [{ Zone: 'west' }, { Zone: 'central' }] },
    { Name: 'billing', Namespace: 'finance', Consumers: [{ Zone: 'west' }, { Zone: '*' }] },
    { Name: 'api', Consumers: [{ Zone: 'south' }] },
  ],
}) as ExportedServicesEntry;

describe('exportsOf', function () {
  it('gives one export per service, sorted, with sorted zones or * alone', function () {
    const expected = [
      { service: 'api', namespace: 'default', consumers: ['south'] },
      { service: 'web', namespace: 'default', consumers: ['central', 'west'] },
      { service: 'billing', namespace: 'finance', consumers: ['*'] },
    ];
    expect(exportsOf(entry)).to.deep.equal(expected);
    const set = new ConfigEntrySet([
      entry,
      decodeConfigEntry({ Kind: 'service-defaults', Name: 'web' }),
    ]);
    expect(exportsOf(set)).to.deep.equal(expected);
    expect(exportsOf(set).map(exportResourceName)).to.deep.equal([
      'default/api',
      'default/web',
      'finance/billing',
    ]);
  });

  it('exports nothing without an exported-services entry', function () {
    expect(exportsOf(new ConfigEntrySet([]))).to.deep.equal([]);
    expect(exportsOf(undefined)).to.deep.equal([]);
  });
});

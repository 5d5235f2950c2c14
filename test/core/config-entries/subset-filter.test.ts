import { expect } from 'chai';
import { InvalidArgumentError, matchesSubset, parseSubsetFilter } from '../../../core/index.ts';

const v2canary = { meta: { version: 'v2' }, tags: ['canary', 'eu'] };
const v1 = { meta: { version: 'v1' }, tags: [] };

describe('service-resolver subset filters', function () {
  it('matches meta equality and tag membership, quoted or bare, joined by and', function () {
    const clauses = parseSubsetFilter(
      'Service.Meta.version == "v2" and Service.Tags contains canary',
      'f',
    );
    expect(matchesSubset(clauses, v2canary)).to.equal(true);
    expect(matchesSubset(clauses, v1)).to.equal(false);
  });

  it('negates with != and not contains', function () {
    const clauses = parseSubsetFilter(
      'Service.Meta.version != v1 and Service.Tags not contains us',
      'f',
    );
    expect(matchesSubset(clauses, v2canary)).to.equal(true);
    expect(matchesSubset(clauses, v1)).to.equal(false);
  });

  it('treats an empty filter as every instance', function () {
    expect(matchesSubset(parseSubsetFilter('  ', 'f'), v1)).to.equal(true);
  });

  for (const filter of [
    'Service.Meta.version = v2',
    'Node.Meta.rack == a',
    'Service.Tags contains',
    'Service.Meta.v == a or Service.Meta.v == b',
  ]) {
    it(`refuses ${JSON.stringify(filter)}, naming the field`, function () {
      expect(() => parseSubsetFilter(filter, 'Subsets.v2.Filter'))
        .to.throw(InvalidArgumentError, /unsupported clause/)
        .with.property('field', 'Subsets.v2.Filter');
    });
  }
});

import { expect } from 'chai';
import { rollUp } from '../../../core/src/store/listing.ts';

const self = (k: string): string => k;

describe('rollUp', function () {
  it('keeps direct children and rolls deeper keys up into folder prefixes', function () {
    const keys = ['a/1', 'a/b/2', 'a/b/3', 'a/c/4'];
    expect(rollUp(keys, self, 'a/', '/')).to.deep.equal({
      items: ['a/1'],
      prefixes: ['a/b/', 'a/c/'],
    });
  });

  it('rolls up the top level with the empty prefix', function () {
    expect(rollUp(['a/1', 'a/2', 'ab', 'b/5', 'c'], self, '', '/')).to.deep.equal({
      items: ['ab', 'c'],
      prefixes: ['a/', 'b/'],
    });
  });

  it('does not count a separator inside the prefix itself', function () {
    expect(rollUp(['x/y/1', 'x/y/z/2'], self, 'x/y/', '/')).to.deep.equal({
      items: ['x/y/1'],
      prefixes: ['x/y/z/'],
    });
  });

  it('cuts at the first separator after a prefix that is not a folder', function () {
    expect(rollUp(['app', 'app/1', 'apple/2', 'apps'], self, 'app', '/')).to.deep.equal({
      items: ['app', 'apps'],
      prefixes: ['app/', 'apple/'],
    });
  });

  it('keeps a folder marker key equal to the prefix as an item', function () {
    expect(rollUp(['a/', 'a/1', 'a/b/'], self, 'a/', '/')).to.deep.equal({
      items: ['a/', 'a/1'],
      prefixes: ['a/b/'],
    });
  });

  it('lists each folder once, in the order of its first key', function () {
    const keys = ['d/a/1', 'd/a/2', 'd/a/x/3', 'd/b', 'd/c/1', 'd/c/2'];
    const { items, prefixes } = rollUp(keys, self, 'd/', '/');
    expect(items).to.deep.equal(['d/b']);
    expect(prefixes).to.deep.equal(['d/a/', 'd/c/']);
  });

  it('supports a multi-character separator', function () {
    expect(rollUp(['p::a::1', 'p::b', 'p::a::2'].sort(), self, 'p::', '::')).to.deep.equal({
      items: ['p::b'],
      prefixes: ['p::a::'],
    });
  });

  it('uses keyOf to read keys and returns the original items', function () {
    const entries = [{ key: 'a/1' }, { key: 'a/b/2' }, { key: 'a/c' }];
    const result = rollUp(entries, (e) => e.key, 'a/', '/');
    expect(result.items).to.have.length(2);
    expect(result.items[0]).to.equal(entries[0]);
    expect(result.items[1]).to.equal(entries[2]);
    expect(result.prefixes).to.deep.equal(['a/b/']);
  });

  it('returns nothing for no items', function () {
    expect(rollUp([], self, 'a/', '/')).to.deep.equal({ items: [], prefixes: [] });
  });

  it('does not modify the input', function () {
    const keys = ['a/1', 'a/b/2'];
    rollUp(keys, self, 'a/', '/');
    expect(keys).to.deep.equal(['a/1', 'a/b/2']);
  });
});

import { expect } from 'chai';
import {
  KvScopes,
  MAX_GLOBAL_KV_PREFIXES,
  kvResourceName,
  validateGlobalKvPrefixes,
} from '../../../core/index.ts';
import { refusal } from '../../helpers/refusal.ts';

describe('KV scopes', () => {
  const scopes = new KvScopes(['global/', 'config/shared/']);

  it('puts a key under a global prefix in the global scope and every other key in the zone', () => {
    expect(scopes.scopeOf('global/app/db')).to.equal('global');
    expect(scopes.globalPrefixOf('config/shared/x')).to.equal('config/shared/');
    expect(scopes.scopeOf('config/local/x')).to.equal('zone');
    // A folder prefix does not capture a sibling name that merely starts alike.
    expect(scopes.scopeOf('global-config')).to.equal('zone');
    expect(scopes.scopeOf('global/')).to.equal('global');
  });

  it('finds the global prefixes a tree operation reaches into without lying inside them', () => {
    expect(scopes.globalPrefixesUnder('')).to.deep.equal(['global/', 'config/shared/']);
    expect(scopes.globalPrefixesUnder('config/')).to.deep.equal(['config/shared/']);
    expect(scopes.globalPrefixesUnder('glo')).to.deep.equal(['global/']);
    expect(scopes.globalPrefixesUnder('global/')).to.deep.equal([]);
    expect(scopes.globalPrefixesUnder('global/app/')).to.deep.equal([]);
    expect(scopes.globalPrefixesUnder('app/')).to.deep.equal([]);
  });

  it('says which listings can show global keys', () => {
    expect(scopes.touchesGlobal('')).to.equal(true);
    expect(scopes.touchesGlobal('global/app')).to.equal(true);
    expect(scopes.touchesGlobal('config/')).to.equal(true);
    expect(scopes.touchesGlobal('config/local/')).to.equal(false);
  });

  it('a standalone zone has no global keys', () => {
    expect(KvScopes.standalone.scopeOf('global/x')).to.equal('zone');
    expect(KvScopes.standalone.touchesGlobal('')).to.equal(false);
  });

  it('compares prefix lists in order', () => {
    expect(scopes.equals(new KvScopes(['global/', 'config/shared/']))).to.equal(true);
    expect(scopes.equals(new KvScopes(['global/']))).to.equal(false);
  });

  it('accepts folders, none inside another', () => {
    expect(validateGlobalKvPrefixes(['global/', 'shared/config/'], 'p')).to.deep.equal([
      'global/',
      'shared/config/',
    ]);
    expect(validateGlobalKvPrefixes([], 'p')).to.deep.equal([]);
  });

  const bad: [string, unknown, RegExp][] = [
    ['not a list', 'global/', /p must be a list/],
    ['an empty prefix', [''], /p\[0\] must be a non-empty KV prefix/],
    ['a prefix without the folder slash', ['global'], /must end with "\/"/],
    ['a leading slash', ['/global/'], /must not start with "\/"/],
    ['an empty segment', ['a//b/'], /empty segment/],
    ['a control character', ['a\u0001/'], /control characters/],
    ['a prefix inside another', ['global/', 'global/app/'], /overlaps "global\/"/],
    ['a repeat', ['global/', 'global/'], /overlaps/],
    [
      'too many',
      Array.from({ length: MAX_GLOBAL_KV_PREFIXES + 1 }, (_, i) => `p${i}/`),
      /at most 64/,
    ],
    ['an over-long prefix', [`${'a'.repeat(1021)}/`], /longer than 1021 bytes/],
  ];
  for (const [what, value, message] of bad) {
    it(`refuses ${what}, naming the entry`, () => {
      const err = refusal(() => validateGlobalKvPrefixes(value, 'p'));
      expect(err.message).to.match(message);
      expect(err.field).to.match(/^p/);
    });
  }

  it('names a KV resource by the SHA-256 of its key, so any key makes a valid name', () => {
    expect(kvResourceName('global/a b/é/')).to.match(/^[0-9a-f]{64}$/);
    expect(kvResourceName('global/x')).to.not.equal(kvResourceName('global/y'));
  });
});

/** Listing by prefix, with and without folder roll-up. */
import { expect } from 'chai';
import { InvalidArgumentError } from '../../../../core/src/errors.ts';
import type { ContractContext } from './context.ts';
import { expectTyped } from './helpers.ts';

export function describeList(ctx: ContractContext): void {
  const { store, put, keys } = ctx;

  describe('list', function () {
    beforeEach(async function () {
      for (const k of ['a/1', 'a/b/2', 'a/b/3', 'a/c/4', 'b/5', 'ab']) await put(k, k);
    });

    it('lists every key under a prefix in key order', async function () {
      const result = await store.list('a/');
      expect(result.entries.map((e) => e.key)).to.deep.equal(['a/1', 'a/b/2', 'a/b/3', 'a/c/4']);
      expect(result.entries.map((e) => e.value.toString())).to.deep.equal([
        'a/1',
        'a/b/2',
        'a/b/3',
        'a/c/4',
      ]);
      expect(result.prefixes).to.deep.equal([]);
    });

    it('treats the prefix as a plain string prefix, not a folder', async function () {
      expect(await keys('a')).to.deep.equal(['a/1', 'a/b/2', 'a/b/3', 'a/c/4', 'ab']);
    });

    it('lists everything with the empty prefix', async function () {
      expect(await keys('')).to.deep.equal(['a/1', 'a/b/2', 'a/b/3', 'a/c/4', 'ab', 'b/5']);
    });

    it('returns nothing for a prefix with no keys', async function () {
      const result = await store.list('zzz/');
      expect(result.entries).to.deep.equal([]);
      expect(result.prefixes).to.deep.equal([]);
    });

    it('rolls keys past the separator up into folder prefixes', async function () {
      const result = await store.list('a/', { separator: '/' });
      expect(result.entries.map((e) => e.key)).to.deep.equal(['a/1']);
      expect(result.prefixes).to.deep.equal(['a/b/', 'a/c/']);
    });

    it('rejects an empty separator with InvalidArgumentError naming the field', async function () {
      const err = await expectTyped(store.list('a/', { separator: '' }), InvalidArgumentError);
      expect(err.message).to.equal('separator must be a non-empty string');
      expect(err.field).to.equal('separator');
    });

    it('rolls up the top level with the empty prefix', async function () {
      const result = await store.list('', { separator: '/' });
      expect(result.entries.map((e) => e.key)).to.deep.equal(['ab']);
      expect(result.prefixes).to.deep.equal(['a/', 'b/']);
    });

    it('matches prefixes with glob and regex characters literally', async function () {
      const special = ['g*/1', 'g?/2', 'g[x]/3', 'g\\/4', 'g{t}/5', 'g./6', 'gz/7'];
      for (const k of special) await put(k, k);
      expect(await keys('g*')).to.deep.equal(['g*/1']);
      expect(await keys('g?')).to.deep.equal(['g?/2']);
      expect(await keys('g[x]')).to.deep.equal(['g[x]/3']);
      expect(await keys('g\\')).to.deep.equal(['g\\/4']);
      expect(await keys('g{t}')).to.deep.equal(['g{t}/5']);
      expect(await keys('g.')).to.deep.equal(['g./6']);
      expect(await store.delete('g*', { recurse: true })).to.deep.equal({ ok: true, deleted: 1 });
      expect(await keys('g')).to.have.length(special.length - 1);
    });

    it('includes keys with the highest code points under a prefix', async function () {
      for (const k of ['p/\uffff', 'p/\u{10ffff}', 'p/~', 'q']) await put(k, k);
      expect(await keys('p/')).to.have.members(['p/\uffff', 'p/\u{10ffff}', 'p/~']);
      expect(await keys('p/')).to.have.length(3);
      expect(await store.delete('p/', { recurse: true })).to.deep.equal({ ok: true, deleted: 3 });
      expect(await keys('p/')).to.deep.equal([]);
    });

    it('lists keys in byte order, not numeric order', async function () {
      for (const k of ['n/10', 'n/2', 'n/1']) await put(k, k);
      expect(await keys('n/')).to.deep.equal(['n/1', 'n/10', 'n/2']);
    });
  });
}

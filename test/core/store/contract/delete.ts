/** Deleting one key, with check-and-set, or a whole prefix. */
import { expect } from 'chai';
import { InvalidArgumentError } from '../../../../core/src/errors.ts';
import type { ContractContext } from './context.ts';
import { expectTyped, view } from './helpers.ts';

export function describeDelete(ctx: ContractContext): void {
  const { store, put, keys } = ctx;

  describe('delete', function () {
    it('deletes a single key and returns deleted 1', async function () {
      await put('k', 'v');
      expect(await store.delete('k')).to.deep.equal({ ok: true, deleted: 1 });
      expect(await store.get('k')).to.equal(null);
    });

    it('deletes only the exact key without recurse', async function () {
      for (const k of ['a', 'a/b', 'ab']) await put(k, k);
      expect(await store.delete('a')).to.deep.equal({ ok: true, deleted: 1 });
      expect(await keys()).to.deep.equal(['a/b', 'ab']);
    });

    it('returns ok with deleted 0 for a missing key and keeps the index', async function () {
      await put('other', 'v');
      expect(await store.delete('missing')).to.deep.equal({ ok: true, deleted: 0 });
      expect(await store.currentIndex()).to.equal(1);
    });

    it('deletes with a matching cas', async function () {
      const e = await put('k', 'v');
      expect(await store.delete('k', { cas: e.modifyIndex })).to.deep.equal({
        ok: true,
        deleted: 1,
      });
      expect(await store.get('k')).to.equal(null);
      expect(await store.currentIndex()).to.equal(2);
    });

    it('refuses a mismatched cas, keeps the key and the index', async function () {
      const e = await put('k', 'v');
      expect(await store.delete('k', { cas: e.modifyIndex + 5 })).to.deep.equal({
        ok: false,
        deleted: 0,
      });
      expect(view(await store.get('k'))).to.deep.equal(view(e));
      expect(await store.currentIndex()).to.equal(1);
    });

    it('treats a cas delete of a missing key as done (ok, deleted 0, no index bump)', async function () {
      await put('other', 'v');
      expect(await store.delete('missing', { cas: 7 })).to.deep.equal({ ok: true, deleted: 0 });
      expect(await store.currentIndex()).to.equal(1);
    });

    it('rejects cas combined with recurse with InvalidArgumentError', async function () {
      const e = await put('a/1', 'v');
      await expectTyped(
        store.delete('a/', { recurse: true, cas: e.modifyIndex }),
        InvalidArgumentError,
      );
      expect(await keys()).to.deep.equal(['a/1']);
    });

    it('deletes a whole prefix with recurse at one index', async function () {
      for (const k of ['a/1', 'a/b/2', 'ab', 'b']) await put(k, k);
      expect(await store.delete('a/', { recurse: true })).to.deep.equal({ ok: true, deleted: 2 });
      expect(await keys()).to.deep.equal(['ab', 'b']);
      expect(await store.currentIndex()).to.equal(5);
    });

    it('deletes everything with recurse and the empty prefix', async function () {
      for (const k of ['a/1', 'b', 'c/d/e']) await put(k, k);
      expect(await store.delete('', { recurse: true })).to.deep.equal({ ok: true, deleted: 3 });
      expect(await keys()).to.deep.equal([]);
      expect(await store.currentIndex()).to.equal(4);
    });

    it('does not bump the index for a recurse delete that matches nothing', async function () {
      await put('a', 'v');
      expect(await store.delete('zzz/', { recurse: true })).to.deep.equal({
        ok: true,
        deleted: 0,
      });
      expect(await store.currentIndex()).to.equal(1);
    });
  });
}

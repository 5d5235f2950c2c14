/** The store index and the per-key indexes, check-and-set, and concurrent writers. */
import { expect } from 'chai';
import type { ContractContext } from './context.ts';
import { b, okEntry, okTxn, view } from './helpers.ts';

export function describeIndexesAndCas(ctx: ContractContext): void {
  const { store, put, keys } = ctx;

  describe('indexes', function () {
    it('bumps the store index by exactly 1 per put', async function () {
      for (let i = 1; i <= 5; i++) {
        const e = await put(`k${i % 2}`, `v${i}`);
        expect(e.modifyIndex).to.equal(i);
        expect(await store.currentIndex()).to.equal(i);
      }
    });

    it('bumps by 1 for a delete that removed something, not for one that removed nothing', async function () {
      await put('k', 'v');
      expect(await store.delete('k')).to.deep.equal({ ok: true, deleted: 1 });
      expect(await store.currentIndex()).to.equal(2);
      expect(await store.delete('k')).to.deep.equal({ ok: true, deleted: 0 });
      expect(await store.currentIndex()).to.equal(2);
    });

    it('does not bump for a failed check-and-set', async function () {
      const e = await put('k', 'v');
      const result = await store.put('k', b('w'), { cas: e.modifyIndex + 100 });
      expect(result.ok).to.equal(false);
      expect(await store.currentIndex()).to.equal(1);
    });

    it('bumps by exactly 1 for a transaction with several writes', async function () {
      await put('k', 'v');
      const result = okTxn(
        await store.txn([
          { op: 'set', key: 'a', value: b('1') },
          { op: 'set', key: 'b', value: b('2') },
          { op: 'delete', key: 'k' },
        ]),
      );
      expect(result.index).to.equal(2);
      expect(await store.currentIndex()).to.equal(2);
      expect((await store.get('a'))!.modifyIndex).to.equal(2);
      expect((await store.get('b'))!.modifyIndex).to.equal(2);
    });

    it('does not bump for a read-only transaction', async function () {
      await put('k', 'v');
      const result = okTxn(
        await store.txn([
          { op: 'get', key: 'k' },
          { op: 'check-index', key: 'k', index: 1 },
        ]),
      );
      expect(result.index).to.equal(1);
      expect(await store.currentIndex()).to.equal(1);
    });

    it('resets createIndex when a key is deleted and recreated', async function () {
      const first = await put('k', 'v');
      await store.delete('k');
      const again = await put('k', 'v');
      expect(first.createIndex).to.equal(1);
      expect(again.createIndex).to.equal(3);
      expect(again.modifyIndex).to.equal(3);
    });

    it('reports in list the index the read is consistent with', async function () {
      await put('a', '1');
      await put('b', '2');
      expect((await store.list('')).index).to.equal(2);
      expect((await store.list('nothing/')).index).to.equal(2);
    });
  });

  describe('check-and-set', function () {
    it('creates a missing key with cas 0', async function () {
      const e = okEntry(await store.put('k', b('v'), { cas: 0 }));
      expect(e.createIndex).to.equal(1);
    });

    it('refuses cas 0 on an existing key and returns the current entry', async function () {
      const e = await put('k', 'v');
      const result = await store.put('k', b('w'), { cas: 0 });
      expect(result.ok).to.equal(false);
      if (!result.ok) expect(view(result.current)).to.deep.equal(view(e));
      expect((await store.get('k'))!.value.toString()).to.equal('v');
    });

    it('updates when cas equals the modifyIndex', async function () {
      const e = await put('k', 'v');
      await put('other', 'x');
      const updated = okEntry(await store.put('k', b('w'), { cas: e.modifyIndex }));
      expect(updated.modifyIndex).to.equal(3);
      expect(updated.createIndex).to.equal(e.createIndex);
      expect((await store.get('k'))!.value.toString()).to.equal('w');
    });

    it('refuses a stale cas and returns the current entry unchanged', async function () {
      const first = await put('k', 'v1');
      const second = await put('k', 'v2');
      const result = await store.put('k', b('v3'), { cas: first.modifyIndex });
      expect(result.ok).to.equal(false);
      if (!result.ok) expect(view(result.current)).to.deep.equal(view(second));
      expect(view(await store.get('k'))).to.deep.equal(view(second));
    });

    it('refuses a non-zero cas on a missing key with current null', async function () {
      await put('other', 'x');
      const result = await store.put('k', b('v'), { cas: 1 });
      expect(result).to.deep.equal({ ok: false, current: null });
      expect(await store.get('k')).to.equal(null);
    });

    it('lets exactly one of 20 concurrent cas updates from the same read win', async function () {
      const base = await put('k', 'base');
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.put('k', b(`v${i}`), { cas: base.modifyIndex })),
      );
      const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
      expect(winners).to.have.length(1);
      const winner = winners[0]!;
      const final = await store.get('k');
      expect(final!.value.toString()).to.equal(`v${winner}`);
      for (const r of results) {
        if (!r.ok) expect(r.current?.value.toString()).to.equal(`v${winner}`);
      }
      expect(await store.currentIndex()).to.equal(base.modifyIndex + 1);
    });

    it('lets exactly one of 20 concurrent create-only puts win', async function () {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.put('k', b(`v${i}`), { cas: 0 })),
      );
      const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
      expect(winners).to.have.length(1);
      expect((await store.get('k'))!.value.toString()).to.equal(`v${winners[0]!}`);
      expect(await store.currentIndex()).to.equal(1);
    });
  });

  describe('concurrent writers', function () {
    it('gives 50 concurrent puts 50 distinct consecutive indexes', async function () {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.put(`c/${i}`, b(String(i)))),
      );
      const indexes = results.map((r) => okEntry(r).modifyIndex).sort((x, y) => x - y);
      expect(indexes).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(await store.currentIndex()).to.equal(50);
      expect((await store.list('c/')).entries).to.have.length(50);
    });

    it('lets exactly one of 10 concurrent transactions with the same cas commit', async function () {
      const base = await put('k', 'base');
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.txn([
            { op: 'set', key: `side/${i}`, value: b('x') },
            { op: 'cas', key: 'k', value: b(`t${i}`), index: base.modifyIndex },
          ]),
        ),
      );
      const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
      expect(winners).to.have.length(1);
      expect((await store.get('k'))!.value.toString()).to.equal(`t${winners[0]!}`);
      expect(await keys('side/')).to.deep.equal([`side/${winners[0]!}`]);
      expect(await store.currentIndex()).to.equal(base.modifyIndex + 1);
    });
  });
}

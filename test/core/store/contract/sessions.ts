/** Sessions and lock indexes on entries. */
import { expect } from 'chai';
import { InvalidArgumentError } from '../../../../core/src/errors.ts';
import type { ContractContext } from './context.ts';
import { b, expectTyped, okEntry } from './helpers.ts';

export function describeSessions(ctx: ContractContext): void {
  const { store, put } = ctx;

  describe('sessions and lock index', function () {
    it('records the session and lock index given', async function () {
      const e = okEntry(await store.put('lock', b('v'), { session: 's1', lockIndex: 1 }));
      expect(e.session).to.equal('s1');
      expect(e.lockIndex).to.equal(1);
      const got = await store.get('lock');
      expect(got!.session).to.equal('s1');
      expect(got!.lockIndex).to.equal(1);
    });

    it('gives a new key lock index 0 and no session', async function () {
      const e = await put('k', 'v');
      expect(e.lockIndex).to.equal(0);
      expect(e.session ?? null).to.equal(null);
    });

    it('keeps the session and lock index when a put leaves them undefined', async function () {
      okEntry(await store.put('lock', b('v'), { session: 's1', lockIndex: 3 }));
      const e = await put('lock', 'v2');
      expect(e.session).to.equal('s1');
      expect(e.lockIndex).to.equal(3);
      expect((await store.get('lock'))!.session).to.equal('s1');
    });

    it('clears the session with session null but keeps the lock index', async function () {
      okEntry(await store.put('lock', b('v'), { session: 's1', lockIndex: 3 }));
      const e = okEntry(await store.put('lock', b('v'), { session: null }));
      expect(e.session ?? null).to.equal(null);
      expect(e.lockIndex).to.equal(3);
      const got = await store.get('lock');
      expect(got!.session ?? null).to.equal(null);
      expect(got!.lockIndex).to.equal(3);
    });

    it('replaces the lock index when one is given', async function () {
      okEntry(await store.put('lock', b('v'), { session: 's1', lockIndex: 1 }));
      const e = okEntry(await store.put('lock', b('v'), { session: 's2', lockIndex: 2 }));
      expect(e.session).to.equal('s2');
      expect(e.lockIndex).to.equal(2);
    });

    it('keeps lock indexes and flags up to 2^53 - 1 exact', async function () {
      const max = Number.MAX_SAFE_INTEGER;
      okEntry(await store.put('lock', b('v'), { session: 's1', lockIndex: max, flags: max - 1 }));
      const got = await store.get('lock');
      expect(got!.lockIndex).to.equal(max);
      expect(got!.flags).to.equal(max - 1);
    });

    it('rejects an empty session string with InvalidArgumentError', async function () {
      await expectTyped(store.put('lock', b('v'), { session: '' }), InvalidArgumentError);
      expect(await store.currentIndex()).to.equal(0);
    });
  });
}

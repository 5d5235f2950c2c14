/** A closed store refuses every call. */
import { expect } from 'chai';
import { ClosedError } from '../../../../core/src/errors.ts';
import { nextEvent } from '../../../helpers/async.ts';
import type { ContractContext } from './context.ts';
import { EVENT_MS, b, expectTyped, rejection } from './helpers.ts';

export function describeClose(ctx: ContractContext): void {
  const { store, put } = ctx;

  describe('close', function () {
    it('rejects reads, writes and new watches with ClosedError after close', async function () {
      await put('k', 'v');
      await store.close();
      await store.close();
      await expectTyped(store.get('k'), ClosedError);
      await expectTyped(store.put('k', b('x')), ClosedError);
      await expectTyped(store.txn([{ op: 'get', key: 'k' }]), ClosedError);
      const err = await rejection(
        (async () => {
          await nextEvent(store.watch('', 0), EVENT_MS);
        })(),
      );
      expect(err).to.be.instanceOf(ClosedError);
    });
  });
}

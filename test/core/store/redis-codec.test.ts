/** The Redis store's translation between store types and script arguments or log entries. */
import { expect } from 'chai';
import { InvalidArgumentError } from '../../../core/src/errors.ts';
import { decodeBatch, encodeTxnOps } from '../../../core/src/store/redis/codec.ts';
import type { TxnOp } from '../../../core/src/store/types.ts';

/** The session slot of the first op (the 6th of its 7 script arguments). */
const sessionSlot = (op: TxnOp): unknown => encodeTxnOps([op])[5];

describe('redis codec', function () {
  describe('encodeTxnOps', function () {
    it('encodes a check-session for "not locked" and for a holder, never as "keep"', function () {
      expect(sessionSlot({ op: 'check-session', key: 'k', session: null })).to.equal('-');
      expect(sessionSlot({ op: 'check-session', key: 'k', session: 's1' })).to.equal('=s1');
    });

    it('refuses a check-session without a session instead of sending "keep"', function () {
      const op = { op: 'check-session', key: 'k' } as unknown as TxnOp;
      expect(() => encodeTxnOps([op])).to.throw(InvalidArgumentError);
    });

    it('still lets a set without a session keep the current holder', function () {
      expect(sessionSlot({ op: 'set', key: 'k', value: Buffer.from('v') })).to.equal('');
    });
  });

  describe('decodeBatch', function () {
    const entry = (fields: string[]): unknown => [
      Buffer.from('7-0'),
      fields.map((f) => Buffer.from(f)),
    ];

    it('reads the nonce and the nonce of the entry before', function () {
      const decoded = decodeBatch(entry(['e', 'E', 'n', 'N7', 'p', 'N6', 'b', 'd1:k']));
      expect(decoded).to.deep.include({ epoch: 'E', nonce: 'N7', prev: 'N6' });
      expect(decoded.batch).to.deep.equal({ index: 7, changes: [{ op: 'delete', key: 'k' }] });
    });

    it('reads an empty previous nonce as "no entry before" and missing ones as unknown', function () {
      expect(decodeBatch(entry(['e', 'E', 'n', 'N1', 'p', '', 'b', ''])).prev).to.equal(null);
      const legacy = decodeBatch(entry(['e', 'E', 'b', '']));
      expect([legacy.nonce, legacy.prev]).to.deep.equal([undefined, undefined]);
    });
  });
});

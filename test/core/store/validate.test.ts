import { expect } from 'chai';
import {
  CausewayError,
  InvalidArgumentError,
  InvalidKeyError,
  ValueTooLargeError,
} from '../../../core/src/errors.ts';
import { MAX_KEY_BYTES, MAX_TXN_OPS, MAX_VALUE_BYTES } from '../../../core/src/store/types.ts';
import {
  validateKey,
  validatePrefix,
  validateSession,
  validateTxnOps,
  validateUint,
  validateValue,
} from '../../../core/src/store/validate.ts';

/** The error `fn` throws; fails the test if it returns. */
function thrown(fn: () => unknown): CausewayError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(CausewayError);
    return err as CausewayError;
  }
  expect.fail('expected a throw');
}

describe('store input validation', function () {
  describe('validateKey', function () {
    it('returns a valid key unchanged', function () {
      expect(validateKey('services/web/config')).to.equal('services/web/config');
      expect(validateKey('héllo/日本')).to.equal('héllo/日本');
    });

    it('allows one trailing "/" as a folder marker', function () {
      expect(validateKey('config/')).to.equal('config/');
    });

    it('rejects a key that is not a string', function () {
      for (const key of [undefined, null, 42, Buffer.from('k'), ['k']]) {
        const err = thrown(() => validateKey(key));
        expect(err).to.be.instanceOf(InvalidKeyError);
        expect(err.message).to.equal('key must be a string');
      }
    });

    it('rejects an empty key', function () {
      const err = thrown(() => validateKey(''));
      expect(err).to.be.instanceOf(InvalidKeyError);
      expect(err.code).to.equal('CW_ERR_INVALID_KEY');
    });

    it('rejects NUL and every other control character', function () {
      for (const ch of ['\u0000', '\u0001', '\n', '\t', '\u001f', '\u007f']) {
        const err = thrown(() => validateKey(`a${ch}b`));
        expect(err, JSON.stringify(ch)).to.be.instanceOf(InvalidKeyError);
        expect(err.message).to.include('control characters');
      }
    });

    it('accepts printable characters just outside the control ranges', function () {
      expect(validateKey('a b~\u0080')).to.equal('a b~\u0080');
    });

    it('rejects a lone surrogate', function () {
      expect(thrown(() => validateKey('a\ud800b')).message).to.include('lone surrogate');
    });

    it('rejects a leading "/"', function () {
      expect(thrown(() => validateKey('/a')).message).to.include('must not start with "/"');
      expect(() => validateKey('/')).to.throw(InvalidKeyError);
    });

    it('rejects an empty segment anywhere', function () {
      for (const key of ['a//b', 'a//', 'a/b//c/d']) {
        expect(thrown(() => validateKey(key)).message, key).to.include('empty segment');
      }
    });

    it('measures the length limit in UTF-8 bytes', function () {
      expect(validateKey('k'.repeat(MAX_KEY_BYTES))).to.have.length(MAX_KEY_BYTES);
      expect(() => validateKey('k'.repeat(MAX_KEY_BYTES + 1))).to.throw(InvalidKeyError);
      // 512 two-byte characters are exactly 1024 bytes; one more byte is too many.
      expect(() => validateKey('é'.repeat(512))).to.not.throw();
      const err = thrown(() => validateKey('é'.repeat(512) + 'x'));
      expect(err.message).to.equal('key is 1025 bytes; the limit is 1024');
    });

    it('names the field it was given in the error', function () {
      const err = thrown(() => validateKey('', 'ops[4].key'));
      expect(err.field).to.equal('ops[4].key');
      expect(err.message).to.equal('ops[4].key must not be empty');
    });
  });

  describe('validatePrefix', function () {
    it('accepts the empty prefix (everything)', function () {
      expect(validatePrefix('')).to.equal('');
    });

    it('applies the key rules to a non-empty prefix', function () {
      expect(validatePrefix('a/')).to.equal('a/');
      expect(() => validatePrefix('/a')).to.throw(InvalidKeyError);
      expect(() => validatePrefix('a//')).to.throw(InvalidKeyError);
      expect(() => validatePrefix('a\u0000')).to.throw(InvalidKeyError);
      expect(() => validatePrefix('p'.repeat(MAX_KEY_BYTES + 1))).to.throw(InvalidKeyError);
    });

    it('rejects a prefix that is not a string, naming the field', function () {
      const err = thrown(() => validatePrefix(undefined));
      expect(err).to.be.instanceOf(InvalidKeyError);
      expect(err.field).to.equal('prefix');
    });
  });

  describe('validateValue', function () {
    it('returns the buffer it was given', function () {
      const value = Buffer.from('v');
      expect(validateValue(value)).to.equal(value);
      expect(validateValue(Buffer.alloc(0))).to.have.length(0);
    });

    it('accepts exactly 512 KiB and rejects one byte more', function () {
      expect(() => validateValue(Buffer.alloc(MAX_VALUE_BYTES))).to.not.throw();
      const err = thrown(() => validateValue(Buffer.alloc(MAX_VALUE_BYTES + 1)));
      expect(err).to.be.instanceOf(ValueTooLargeError);
      expect((err as ValueTooLargeError).size).to.equal(MAX_VALUE_BYTES + 1);
      expect((err as ValueTooLargeError).limit).to.equal(MAX_VALUE_BYTES);
      expect(err.field).to.equal('value');
    });

    it('rejects strings and plain byte arrays with InvalidArgumentError', function () {
      for (const value of ['text', new Uint8Array(3), null, undefined, [1, 2]]) {
        const err = thrown(() => validateValue(value, 'ops[0].value'));
        expect(err).to.be.instanceOf(InvalidArgumentError);
        expect(err.field).to.equal('ops[0].value');
      }
    });
  });

  describe('validateUint', function () {
    it('accepts whole numbers from 0 to 2^53 - 1', function () {
      for (const n of [0, 1, 42, Number.MAX_SAFE_INTEGER]) {
        expect(validateUint(n, 'flags')).to.equal(n);
      }
    });

    it('rejects negatives, fractions, unsafe and non-numbers', function () {
      for (const n of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, NaN, Infinity, '1', null, 1n]) {
        const err = thrown(() => validateUint(n, 'flags'));
        expect(err, String(n)).to.be.instanceOf(InvalidArgumentError);
        expect(err.field).to.equal('flags');
      }
    });
  });

  describe('validateSession', function () {
    it('passes undefined (keep) and null (clear) through', function () {
      expect(validateSession(undefined)).to.equal(undefined);
      expect(validateSession(null)).to.equal(null);
    });

    it('accepts a session id of 1 to 128 characters', function () {
      expect(validateSession('s')).to.equal('s');
      expect(validateSession('s'.repeat(128))).to.equal('s'.repeat(128));
    });

    it('rejects an empty, too long or non-string session', function () {
      for (const s of ['', 's'.repeat(129), 7, {}]) {
        const err = thrown(() => validateSession(s));
        expect(err).to.be.instanceOf(InvalidArgumentError);
        expect(err.field).to.equal('session');
      }
    });
  });

  describe('validateTxnOps', function () {
    const v = Buffer.from('v');

    it('returns the ops array of a valid transaction', function () {
      const ops = [
        { op: 'get', key: 'a' },
        { op: 'get-tree', key: '' },
        { op: 'set', key: 'a', value: v, flags: 1, session: 's', lockIndex: 2 },
        { op: 'cas', key: 'a', value: v, index: 0 },
        { op: 'delete', key: 'a' },
        { op: 'delete-tree', key: '' },
        { op: 'delete-cas', key: 'a', index: 3 },
        { op: 'check-index', key: 'a', index: 3 },
        { op: 'check-not-exists', key: 'a' },
        { op: 'check-session', key: 'a', session: null },
      ];
      expect(validateTxnOps(ops)).to.equal(ops);
    });

    it('accepts an empty transaction', function () {
      expect(validateTxnOps([])).to.deep.equal([]);
    });

    it('rejects something that is not an array', function () {
      const err = thrown(() => validateTxnOps({ op: 'get', key: 'a' }));
      expect(err).to.be.instanceOf(InvalidArgumentError);
      expect(err.field).to.equal('ops');
    });

    it(`accepts ${MAX_TXN_OPS} ops and rejects ${MAX_TXN_OPS + 1}`, function () {
      const op = { op: 'get', key: 'a' };
      expect(() => validateTxnOps(Array.from({ length: MAX_TXN_OPS }, () => op))).to.not.throw();
      const err = thrown(() => validateTxnOps(Array.from({ length: MAX_TXN_OPS + 1 }, () => op)));
      expect(err).to.be.instanceOf(InvalidArgumentError);
      expect(err.message).to.include('at most 64');
    });

    const bad: [string, unknown, new (...args: never[]) => CausewayError, string][] = [
      ['a non-object op', 'get a', InvalidArgumentError, 'ops[1]'],
      ['a null op', null, InvalidArgumentError, 'ops[1]'],
      ['an unknown verb', { op: 'put', key: 'a' }, InvalidArgumentError, 'ops[1].op'],
      ['a missing verb', { key: 'a' }, InvalidArgumentError, 'ops[1].op'],
      ['an empty key on get', { op: 'get', key: '' }, InvalidKeyError, 'ops[1].key'],
      ['an invalid key on delete', { op: 'delete', key: 'a//b' }, InvalidKeyError, 'ops[1].key'],
      [
        'an invalid prefix on get-tree',
        { op: 'get-tree', key: '/a' },
        InvalidKeyError,
        'ops[1].key',
      ],
      ['a missing value on set', { op: 'set', key: 'a' }, InvalidArgumentError, 'ops[1].value'],
      [
        'a value too large on cas',
        { op: 'cas', key: 'a', value: Buffer.alloc(MAX_VALUE_BYTES + 1), index: 0 },
        ValueTooLargeError,
        'ops[1].value',
      ],
      [
        'bad flags on set',
        { op: 'set', key: 'a', value: v, flags: -1 },
        InvalidArgumentError,
        'ops[1].flags',
      ],
      [
        'a bad lock index on set',
        { op: 'set', key: 'a', value: v, lockIndex: 0.5 },
        InvalidArgumentError,
        'ops[1].lockIndex',
      ],
      [
        'an empty session on set',
        { op: 'set', key: 'a', value: v, session: '' },
        InvalidArgumentError,
        'ops[1].session',
      ],
      [
        'a missing index on cas',
        { op: 'cas', key: 'a', value: v },
        InvalidArgumentError,
        'ops[1].index',
      ],
      [
        'a bad index on delete-cas',
        { op: 'delete-cas', key: 'a', index: -2 },
        InvalidArgumentError,
        'ops[1].index',
      ],
      [
        'a bad index on check-index',
        { op: 'check-index', key: 'a', index: '3' },
        InvalidArgumentError,
        'ops[1].index',
      ],
      [
        'a bad session on check-session',
        { op: 'check-session', key: 'a', session: 5 },
        InvalidArgumentError,
        'ops[1].session',
      ],
      [
        'a missing session on check-session',
        { op: 'check-session', key: 'a' },
        InvalidArgumentError,
        'ops[1].session',
      ],
    ];
    for (const [what, op, type, field] of bad) {
      it(`rejects ${what}, naming ${field}`, function () {
        const err = thrown(() => validateTxnOps([{ op: 'get', key: 'ok' }, op]));
        expect(err).to.be.instanceOf(type);
        expect(err.field).to.equal(field);
      });
    }
  });
});

import { expect } from 'chai';
import {
  CausewayError,
  ClosedError,
  ConfigError,
  ConflictError,
  CorruptDataError,
  InvalidArgumentError,
  InvalidKeyError,
  NotFoundError,
  ServiceUnavailableError,
  StoreUnavailableError,
  TimeoutError,
  TransactionAbortedError,
  ValueTooLargeError,
  errorAnswer,
  httpStatusOf,
  isCausewayError,
  isConflict,
  isNotFound,
  isRetryable,
  toErrorBody,
} from '../../core/src/errors.ts';
import type { ErrorCode } from '../../core/src/errors.ts';

describe('errors', function () {
  describe('error classes', function () {
    const cases: [CausewayError, ErrorCode, string][] = [
      [new InvalidArgumentError('bad', 'flags'), 'CW_ERR_INVALID_ARGUMENT', 'InvalidArgumentError'],
      [new InvalidKeyError('bad key'), 'CW_ERR_INVALID_KEY', 'InvalidKeyError'],
      [new ValueTooLargeError(10, 5), 'CW_ERR_VALUE_TOO_LARGE', 'ValueTooLargeError'],
      [new NotFoundError('gone'), 'CW_ERR_NOT_FOUND', 'NotFoundError'],
      [new ConflictError('stale'), 'CW_ERR_CONFLICT', 'ConflictError'],
      [new TransactionAbortedError([]), 'CW_ERR_TXN_ABORTED', 'TransactionAbortedError'],
      [new StoreUnavailableError('down'), 'CW_ERR_STORE_UNAVAILABLE', 'StoreUnavailableError'],
      [new ClosedError('store'), 'CW_ERR_CLOSED', 'ClosedError'],
      [new ConfigError('bad config'), 'CW_ERR_CONFIG', 'ConfigError'],
      [new CorruptDataError('bad crc'), 'CW_ERR_CORRUPT_DATA', 'CorruptDataError'],
      [new TimeoutError('slow'), 'CW_ERR_TIMEOUT', 'TimeoutError'],
      [
        new ServiceUnavailableError('none healthy'),
        'CW_ERR_UNAVAILABLE',
        'ServiceUnavailableError',
      ],
    ];
    for (const [err, code, name] of cases) {
      it(`gives ${name} the code ${code} and its own name`, function () {
        expect(err.code).to.equal(code);
        expect(err.name).to.equal(name);
        expect(err).to.be.instanceOf(CausewayError);
        expect(err).to.be.instanceOf(Error);
        expect(isCausewayError(err)).to.equal(true);
      });
    }

    it('records the field a validation error is about', function () {
      expect(new InvalidArgumentError('bad', 'ops[3].flags').field).to.equal('ops[3].flags');
      expect(new InvalidArgumentError('bad').field).to.equal(undefined);
      expect(new InvalidKeyError('bad').field).to.equal('key');
      expect(new InvalidKeyError('bad', 'ops[1].key').field).to.equal('ops[1].key');
      expect(new ConfigError('bad', 'store').field).to.equal('store');
    });

    it('reports the size and limit of a value that is too large', function () {
      const err = new ValueTooLargeError(524_289, 524_288);
      expect(err.size).to.equal(524_289);
      expect(err.limit).to.equal(524_288);
      expect(err.field).to.equal('value');
      expect(err.message).to.equal('value is 524289 bytes; the limit is 524288 bytes');
      expect(new ValueTooLargeError(2, 1, 'ops[0].value').field).to.equal('ops[0].value');
    });

    it('names the first failing op of an aborted transaction', function () {
      const errors = [
        { opIndex: 2, what: 'index is stale' },
        { opIndex: 5, what: 'key does not exist' },
      ];
      const err = new TransactionAbortedError(errors);
      expect(err.message).to.equal('transaction rolled back: op 2: index is stale');
      expect(err.field).to.equal('ops[2]');
      expect(err.errors).to.deep.equal(errors);
    });

    it('describes an aborted transaction without errors generically', function () {
      const err = new TransactionAbortedError([]);
      expect(err.message).to.equal('transaction rolled back');
      expect(err.field).to.equal(undefined);
    });

    it('keeps the cause of an unavailable store and of corrupt data', function () {
      const cause = new Error('ECONNREFUSED');
      expect(new StoreUnavailableError('redis down', cause).cause).to.equal(cause);
      expect(new CorruptDataError('bad crc', cause).cause).to.equal(cause);
      expect(new StoreUnavailableError('redis down')).to.not.have.property('cause');
    });

    it('says what was closed', function () {
      expect(new ClosedError('store').message).to.equal('store is closed');
    });
  });

  describe('predicates', function () {
    it('retries only an unavailable store and a timeout', function () {
      expect(isRetryable(new StoreUnavailableError('down'))).to.equal(true);
      expect(isRetryable(new TimeoutError('slow'))).to.equal(true);
      expect(isRetryable(new ServiceUnavailableError('none healthy'))).to.equal(true);
      expect(new StoreUnavailableError('down').isRetryable()).to.equal(true);
      for (const err of [
        new InvalidArgumentError('bad'),
        new ConflictError('stale'),
        new ClosedError('store'),
        new CorruptDataError('bad'),
        new TransactionAbortedError([]),
      ]) {
        expect(isRetryable(err), err.name).to.equal(false);
        expect(err.isRetryable(), err.name).to.equal(false);
      }
    });

    it('never retries an unknown error, even one that claims to be retryable', function () {
      expect(isRetryable(new Error('ECONNRESET'))).to.equal(false);
      expect(isRetryable({ isRetryable: () => true, code: 'CW_ERR_TIMEOUT' })).to.equal(false);
      expect(isRetryable(undefined)).to.equal(false);
    });

    it('recognises not-found and conflict errors by code only', function () {
      expect(isNotFound(new NotFoundError('gone'))).to.equal(true);
      expect(isNotFound(new ConflictError('stale'))).to.equal(false);
      expect(isNotFound({ code: 'CW_ERR_NOT_FOUND' })).to.equal(false);
      expect(isConflict(new ConflictError('stale'))).to.equal(true);
      expect(isConflict(new NotFoundError('gone'))).to.equal(false);
      expect(isConflict(new Error('conflict'))).to.equal(false);
    });

    it('does not take plain errors or look-alike objects for Causeway errors', function () {
      expect(isCausewayError(new Error('x'))).to.equal(false);
      expect(isCausewayError({ code: 'CW_ERR_INTERNAL', message: 'x' })).to.equal(false);
      expect(isCausewayError(null)).to.equal(false);
    });
  });

  describe('httpStatusOf', function () {
    const statuses: [ErrorCode, number][] = [
      ['CW_ERR_INVALID_ARGUMENT', 400],
      ['CW_ERR_INVALID_KEY', 400],
      ['CW_ERR_VALUE_TOO_LARGE', 413],
      ['CW_ERR_NOT_FOUND', 404],
      ['CW_ERR_CONFLICT', 409],
      ['CW_ERR_TXN_ABORTED', 409],
      ['CW_ERR_STORE_UNAVAILABLE', 503],
      ['CW_ERR_UNAVAILABLE', 503],
      ['CW_ERR_CLOSED', 503],
      ['CW_ERR_CONFIG', 400],
      ['CW_ERR_CORRUPT_DATA', 500],
      ['CW_ERR_TIMEOUT', 504],
      ['CW_ERR_INTERNAL', 500],
    ];
    for (const [code, status] of statuses) {
      it(`maps ${code} to ${status}`, function () {
        expect(httpStatusOf(new CausewayError(code, 'x'))).to.equal(status);
      });
    }

    it('maps the subclasses by their code', function () {
      expect(httpStatusOf(new ValueTooLargeError(2, 1))).to.equal(413);
      expect(httpStatusOf(new NotFoundError('gone'))).to.equal(404);
      expect(httpStatusOf(new StoreUnavailableError('down'))).to.equal(503);
    });

    it('answers 500 for anything that is not a Causeway error', function () {
      expect(httpStatusOf(new Error('boom'))).to.equal(500);
      expect(httpStatusOf({ code: 'CW_ERR_NOT_FOUND' })).to.equal(500);
      expect(httpStatusOf('boom')).to.equal(500);
    });
  });

  describe('toErrorBody', function () {
    it('carries the code, message and field of a Causeway error', function () {
      expect(toErrorBody(new InvalidKeyError('key must not be empty', 'ops[0].key'))).to.deep.equal(
        {
          error: {
            code: 'CW_ERR_INVALID_KEY',
            message: 'key must not be empty',
            field: 'ops[0].key',
          },
        },
      );
    });

    it('leaves field out when the error has none', function () {
      const body = toErrorBody(new NotFoundError('no such key'));
      expect(body).to.deep.equal({ error: { code: 'CW_ERR_NOT_FOUND', message: 'no such key' } });
      expect(body.error).to.not.have.property('field');
    });

    it('never leaks the message of an unknown error', function () {
      const secret = 'password=hunter2 at /etc/causeway/secret';
      for (const err of [new Error(secret), new TypeError(secret), secret, { message: secret }]) {
        const body = toErrorBody(err);
        expect(body).to.deep.equal({
          error: { code: 'CW_ERR_INTERNAL', message: 'internal error' },
        });
        expect(JSON.stringify(body)).to.not.include('hunter2');
      }
    });

    it('answers a generic body for null and undefined', function () {
      expect(toErrorBody(null).error.code).to.equal('CW_ERR_INTERNAL');
      expect(toErrorBody(undefined).error.message).to.equal('internal error');
    });
  });

  describe('errorAnswer', function () {
    it('answers a Causeway error with its status, message and JSON body', function () {
      expect(errorAnswer(new NotFoundError('no such key', 'key'))).to.deep.equal({
        status: 404,
        message: 'no such key',
        body: { error: { code: 'CW_ERR_NOT_FOUND', message: 'no such key', field: 'key' } },
      });
    });

    it('keeps a koa error status, and its message only when exposed', function () {
      const shown = Object.assign(new Error('request aborted'), { status: 400, expose: true });
      expect(errorAnswer(shown)).to.deep.equal({
        status: 400,
        message: 'request aborted',
        body: { error: { code: 'CW_ERR_INVALID_ARGUMENT', message: 'request aborted' } },
      });
      const hidden = Object.assign(new Error('secret detail'), { status: 502 });
      expect(errorAnswer(hidden)).to.include({ status: 502, message: 'internal error' });
    });

    it('answers anything else with a 500 that shows nothing of it', function () {
      expect(errorAnswer(new Error('db password in here'))).to.deep.equal({
        status: 500,
        message: 'internal error',
        body: { error: { code: 'CW_ERR_INTERNAL', message: 'internal error' } },
      });
      expect(errorAnswer({ status: 999 }).status).to.equal(500);
    });
  });
});

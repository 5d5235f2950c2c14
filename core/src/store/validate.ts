/**
 * Input rules every backend enforces before touching data, so both answer bad input with
 * the same typed error and nothing is ever half-written.
 */
import { InvalidArgumentError, InvalidKeyError, ValueTooLargeError } from '../errors.ts';
import { MAX_KEY_BYTES, MAX_TXN_OPS, MAX_VALUE_BYTES } from './types.ts';
import type { TxnOp } from './types.ts';

/**
 * A key is 1..1024 UTF-8 bytes, has no NUL or other C0 control character, does not start
 * with `/`, and has no empty segment (`a//b`). One trailing `/` is allowed: Consul clients
 * use keys like `config/` as folder markers.
 */
export function validateKey(key: unknown, field = 'key'): string {
  if (typeof key !== 'string') throw new InvalidKeyError(`${field} must be a string`, field);
  if (key.length === 0) throw new InvalidKeyError(`${field} must not be empty`, field);
  return validatePath(key, field);
}

/** A prefix follows the key rules but may be empty (everything). */
export function validatePrefix(prefix: unknown, field = 'prefix'): string {
  if (typeof prefix !== 'string') throw new InvalidKeyError(`${field} must be a string`, field);
  return prefix.length === 0 ? prefix : validatePath(prefix, field);
}

function validatePath(path: string, field: string): string {
  const bytes = Buffer.byteLength(path, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw new InvalidKeyError(`${field} is ${bytes} bytes; the limit is ${MAX_KEY_BYTES}`, field);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) {
    throw new InvalidKeyError(`${field} must not contain NUL or control characters`, field);
  }
  if (!path.isWellFormed()) {
    throw new InvalidKeyError(`${field} must be valid Unicode (lone surrogate)`, field);
  }
  if (path.startsWith('/')) throw new InvalidKeyError(`${field} must not start with "/"`, field);
  if (path.includes('//')) throw new InvalidKeyError(`${field} has an empty segment ("//")`, field);
  return path;
}

export function validateValue(value: unknown, field = 'value'): Buffer {
  if (!Buffer.isBuffer(value)) throw new InvalidArgumentError(`${field} must be a Buffer`, field);
  if (value.length > MAX_VALUE_BYTES)
    throw new ValueTooLargeError(value.length, MAX_VALUE_BYTES, field);
  return value;
}

/** Indexes, flags and lock counters: whole numbers from 0 to 2^53 − 1. */
export function validateUint(n: unknown, field: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError(`${field} must be an integer from 0 to 2^53-1`, field);
  }
  return n;
}

export function validateSession(session: unknown, field = 'session'): string | null | undefined {
  if (session === undefined || session === null) return session;
  if (typeof session !== 'string' || session.length === 0 || session.length > 128) {
    throw new InvalidArgumentError(
      `${field} must be a non-empty string of at most 128 chars`,
      field,
    );
  }
  return session;
}

const txnVerbs = new Set([
  'get',
  'get-tree',
  'set',
  'cas',
  'delete',
  'delete-tree',
  'delete-cas',
  'check-index',
  'check-not-exists',
  'check-session',
]);

/** Check the shape of every op up front, so a transaction fails before it starts. */
export function validateTxnOps(ops: unknown): TxnOp[] {
  if (!Array.isArray(ops)) throw new InvalidArgumentError('ops must be an array', 'ops');
  if (ops.length > MAX_TXN_OPS) {
    throw new InvalidArgumentError(
      `a transaction has at most ${MAX_TXN_OPS} operations; got ${ops.length}`,
      'ops',
    );
  }
  ops.forEach((raw: unknown, i) => {
    const at = `ops[${i}]`;
    if (typeof raw !== 'object' || raw === null) {
      throw new InvalidArgumentError(`${at} must be an object`, at);
    }
    const op = raw as Record<string, unknown>;
    if (typeof op.op !== 'string' || !txnVerbs.has(op.op)) {
      throw new InvalidArgumentError(`${at}.op is not a known verb: ${String(op.op)}`, `${at}.op`);
    }
    if (op.op === 'get-tree' || op.op === 'delete-tree') validatePrefix(op.key, `${at}.key`);
    else validateKey(op.key, `${at}.key`);
    if (op.op === 'set' || op.op === 'cas') {
      validateValue(op.value, `${at}.value`);
      if (op.flags !== undefined) validateUint(op.flags, `${at}.flags`);
      if (op.lockIndex !== undefined) validateUint(op.lockIndex, `${at}.lockIndex`);
      validateSession(op.session, `${at}.session`);
    }
    if (op.op === 'cas' || op.op === 'delete-cas' || op.op === 'check-index') {
      validateUint(op.index, `${at}.index`);
    }
    if (op.op === 'check-session') {
      // Required here: an omitted session would otherwise quietly mean "not locked".
      if (op.session === undefined) {
        throw new InvalidArgumentError(
          `${at}.session is required: a session ID, or null for "not locked"`,
          `${at}.session`,
        );
      }
      validateSession(op.session, `${at}.session`);
    }
  });
  return ops as TxnOp[];
}

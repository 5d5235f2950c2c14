/**
 * The body of `PUT /v1/txn`: a JSON array of at most 64 operations, each
 * `{ "KV": { Verb, Key, Value (base64), Flags, Index, Session } }`, read the way Consul's
 * `convertOps` reads it (field names case-insensitive, unknown fields ignored, `Value`
 * base64 or null). Anything malformed is a 400 naming the operation and field; too many
 * operations or a value over 512 KiB is a 413 with Consul's text.
 */
import {
  InvalidArgumentError,
  MAX_TXN_OPS,
  MAX_VALUE_BYTES,
  ValueTooLargeError,
} from '../../../core/index.ts';
import { validateConsulKey, validateConsulPrefix } from '../kv/kv-entry.ts';
import { isSessionId } from '../session/session-record.ts';

export const KV_VERBS = [
  'set',
  'cas',
  'lock',
  'unlock',
  'get',
  'get-or-empty',
  'get-tree',
  'check-index',
  'check-session',
  'check-not-exists',
  'delete',
  'delete-tree',
  'delete-cas',
] as const;

export type KvVerb = (typeof KV_VERBS)[number];

/** Verbs that write, so a transaction without them is read-only (Consul's `isWrite`). */
export const WRITE_VERBS: ReadonlySet<KvVerb> = new Set<KvVerb>([
  'set',
  'cas',
  'lock',
  'unlock',
  'delete',
  'delete-tree',
  'delete-cas',
]);

/** One KV operation with Go's zero values filled in. */
export interface KvOp {
  verb: KvVerb;
  key: string;
  value: Buffer;
  flags: number;
  index: number;
  session: string;
}

/** A 413 with Consul's text (`Transaction contains too many operations`, `Value for key …`). */
export class TxnTooLargeError extends ValueTooLargeError {
  constructor(message: string, size: number, limit: number, field: string) {
    super(size, limit, field);
    this.message = message;
  }
}

/** The longest session the store keeps in a `check-session`. */
const MAX_SESSION_CHARS = 128;
const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const otherOps = ['node', 'service', 'check', 'session', 'intention'];

function bad(message: string, field: string): InvalidArgumentError {
  return new InvalidArgumentError(`Failed to parse body: ${field}: ${message}`, field);
}

function lowerKeys(obj: Record<string, unknown>): Map<string, unknown> {
  return new Map(Object.entries(obj).map(([k, v]) => [k.toLowerCase(), v]));
}

function str(f: Map<string, unknown>, name: string, at: string): string {
  const v = f.get(name.toLowerCase());
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw bad('must be a string', `${at}.${name}`);
  return v;
}

function uint(f: Map<string, unknown>, name: string, at: string): number {
  const v = f.get(name.toLowerCase());
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw bad('must be an integer from 0 to 2^53-1', `${at}.${name}`);
  }
  return v;
}

function value(f: Map<string, unknown>, at: string, key: string): Buffer {
  const v = f.get('value');
  if (v === undefined || v === null) return Buffer.alloc(0);
  if (typeof v !== 'string') throw bad('must be a base64 string or null', `${at}.Value`);
  if (!base64.test(v)) throw bad('failed to decode value: not valid base64', `${at}.Value`);
  const bytes = Buffer.from(v, 'base64');
  if (bytes.length > MAX_VALUE_BYTES) {
    throw new TxnTooLargeError(
      `Value for key ${JSON.stringify(key)} is too large (${bytes.length} > ${MAX_VALUE_BYTES} bytes)`,
      bytes.length,
      MAX_VALUE_BYTES,
      `${at}.Value`,
    );
  }
  return bytes;
}

function parseKv(raw: unknown, at: string): KvOp {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw bad('must be an object', at);
  }
  const f = lowerKeys(raw as Record<string, unknown>);
  const verbText = str(f, 'Verb', at);
  if (!(KV_VERBS as readonly string[]).includes(verbText)) {
    throw bad(`unknown KV verb ${JSON.stringify(verbText)}`, `${at}.Verb`);
  }
  const verb = verbText as KvVerb;
  const key = str(f, 'Key', at);
  if (verb === 'delete-tree') validateConsulPrefix(key, `${at}.Key`);
  else if (key === '') throw bad('Must provide key', `${at}.Key`);
  else validateConsulKey(key, `${at}.Key`);
  const session = str(f, 'Session', at);
  if ((verb === 'lock' || verb === 'unlock') && session === '') {
    throw bad('missing session', `${at}.Session`);
  }
  if (verb === 'lock' && !isSessionId(session)) {
    throw bad(`invalid session ${JSON.stringify(session)}`, `${at}.Session`);
  }
  if (session.length > MAX_SESSION_CHARS) {
    throw bad(`is longer than ${MAX_SESSION_CHARS} characters`, `${at}.Session`);
  }
  // Namespace and Partition (Enterprise) are accepted and ignored.
  str(f, 'Namespace', at);
  str(f, 'Partition', at);
  return {
    verb,
    key,
    value: value(f, at, key),
    flags: uint(f, 'Flags', at),
    index: uint(f, 'Index', at),
    session,
  };
}

/** Validate a parsed JSON body into KV operations. */
export function parseTxnBody(body: unknown): KvOp[] {
  if (!Array.isArray(body)) {
    throw new InvalidArgumentError(
      'Failed to parse body: the body must be a JSON array of operations',
      'body',
    );
  }
  if (body.length > MAX_TXN_OPS) {
    throw new TxnTooLargeError(
      `Transaction contains too many operations (${body.length} > ${MAX_TXN_OPS})`,
      body.length,
      MAX_TXN_OPS,
      'body',
    );
  }
  return body.map((raw: unknown, i) => {
    const at = `ops[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw bad('must be an object', at);
    }
    const f = lowerKeys(raw as Record<string, unknown>);
    const kv = f.get('kv');
    if (kv !== undefined && kv !== null) return parseKv(kv, `${at}.KV`);
    const other = otherOps.find((name) => f.get(name) !== undefined && f.get(name) !== null);
    if (other !== undefined) {
      const name = other[0]?.toUpperCase() + other.slice(1);
      throw new InvalidArgumentError(
        `${at}: ${name} operations are not supported yet; only KV operations are`,
        `${at}.${name}`,
      );
    }
    throw bad('no operation specified', at);
  });
}

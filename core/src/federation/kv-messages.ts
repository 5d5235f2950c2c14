/**
 * Writes to global KV made at a zone. The zone forwards them over its sync connection
 * (`kv-write`, zone → global) and global answers each (`kv-written`, global → zone) after
 * writing its store. The zone has already checked the caller's ACL token; global checks
 * that the key is under a global prefix. `index` in the answer is the global store's
 * index of the write, which the zone waits to see in its replica before answering its
 * client, so a client reads its own write at the zone it wrote through.
 */
import { InvalidArgumentError, isCausewayError } from '../errors.ts';
import { MAX_VALUE_BYTES } from '../store/types.ts';
import { validateKey, validatePrefix } from '../store/validate.ts';
import { MAX_KV_KEY_BYTES } from './kv-scopes.ts';

export const KV_WRITE_VERBS = ['set', 'cas', 'delete', 'delete-cas', 'delete-tree'] as const;
export type KvWriteVerb = (typeof KV_WRITE_VERBS)[number];

export interface KvWriteOp {
  verb: KvWriteVerb;
  /** The key, or the prefix for `delete-tree`. */
  key: string;
  /** base64; `set` and `cas` only. */
  value?: string;
  /** `set` and `cas` only. */
  flags?: number;
  /** The ModifyIndex `cas` and `delete-cas` expect (0: only when absent). */
  index?: number;
}

export interface KvWriteMessage {
  type: 'kv-write';
  /** Chosen by the zone, unique among its writes in flight. */
  id: string;
  op: KvWriteOp;
}

export interface KvWrittenMessage {
  type: 'kv-written';
  id: string;
  /** False when a check-and-set did not match (Consul's `false`); errors come in `error`. */
  ok: boolean;
  /** Global's store index of the write (0 when nothing was written). */
  index: number;
  error?: { code: string; message: string; field?: string };
}

/** Longest write id. */
const MAX_ID_CHARS = 64;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

type Fields = Record<string, unknown>;

/**
 * A `kv-write` whose id is good but whose op is not. The zone waits on that id, so global
 * answers it with a `kv-written` error instead of closing the connection.
 */
export class InvalidKvWriteError extends InvalidArgumentError {
  constructor(
    readonly id: string,
    cause: unknown,
  ) {
    super(
      cause instanceof Error ? cause.message : String(cause),
      isCausewayError(cause) ? cause.field : undefined,
    );
  }
}

export function decodeKvWrite(v: Fields): KvWriteMessage {
  const id = writeId(v.id);
  try {
    const op = v.op;
    if (typeof op !== 'object' || op === null || Array.isArray(op)) {
      throw new InvalidArgumentError('op must be an object', 'op');
    }
    return { type: 'kv-write', id, op: decodeKvWriteOp(op as Fields) };
  } catch (err) {
    // Every refusal here is of the op's shape (bad verb, key, value…): answer it by id.
    throw new InvalidKvWriteError(id, err);
  }
}

export function decodeKvWritten(v: Fields): KvWrittenMessage {
  if (typeof v.ok !== 'boolean') throw new InvalidArgumentError('ok must be a boolean', 'ok');
  const index = v.index;
  if (!Number.isSafeInteger(index) || (index as number) < 0) {
    throw new InvalidArgumentError('index must be a non-negative integer', 'index');
  }
  let error: KvWrittenMessage['error'];
  if (v.error !== undefined) {
    const e = v.error as Fields;
    if (
      typeof e !== 'object' ||
      e === null ||
      typeof e.code !== 'string' ||
      typeof e.message !== 'string'
    ) {
      throw new InvalidArgumentError('error must be {code, message, field?}', 'error');
    }
    error = {
      code: e.code.slice(0, 128),
      message: e.message.slice(0, 4096),
      ...(typeof e.field === 'string' ? { field: e.field.slice(0, 256) } : {}),
    };
  }
  return {
    type: 'kv-written',
    id: writeId(v.id),
    ok: v.ok,
    index: index as number,
    ...(error ? { error } : {}),
  };
}

/** One operation's shape: the verb's fields present and valid, the others absent. */
export function decodeKvWriteOp(v: Fields): KvWriteOp {
  const verb = v.verb;
  if (typeof verb !== 'string' || !(KV_WRITE_VERBS as readonly string[]).includes(verb)) {
    throw new InvalidArgumentError(
      `op.verb must be one of ${KV_WRITE_VERBS.join(', ')}`,
      'op.verb',
    );
  }
  const op: KvWriteOp = { verb: verb as KvWriteVerb, key: key(v.key, verb === 'delete-tree') };
  const writes = verb === 'set' || verb === 'cas';
  const checks = verb === 'cas' || verb === 'delete-cas';
  if (writes) {
    op.value = value(v.value);
    op.flags = uint(v.flags ?? 0, 'op.flags');
  } else if (v.value !== undefined || v.flags !== undefined) {
    throw new InvalidArgumentError(
      `op.value and op.flags are for set and cas, not ${verb}`,
      'op.value',
    );
  }
  if (checks) op.index = uint(v.index, 'op.index');
  else if (v.index !== undefined) {
    throw new InvalidArgumentError(`op.index is for cas and delete-cas, not ${verb}`, 'op.index');
  }
  return op;
}

function writeId(v: unknown): string {
  if (typeof v !== 'string' || v === '' || v.length > MAX_ID_CHARS) {
    throw new InvalidArgumentError(`id must be a string of 1-${MAX_ID_CHARS} characters`, 'id');
  }
  return v;
}

function key(v: unknown, tree: boolean): string {
  if (typeof v !== 'string') throw new InvalidArgumentError('op.key must be a string', 'op.key');
  if (Buffer.byteLength(v) > MAX_KV_KEY_BYTES) {
    throw new InvalidArgumentError(`op.key is longer than ${MAX_KV_KEY_BYTES} bytes`, 'op.key');
  }
  return tree ? validatePrefix(v, 'op.key') : validateKey(v, 'op.key');
}

function value(v: unknown): string {
  if (typeof v !== 'string' || !BASE64.test(v) || v.length % 4 !== 0) {
    throw new InvalidArgumentError('op.value must be base64', 'op.value');
  }
  const bytes = Buffer.from(v, 'base64').length;
  if (bytes > MAX_VALUE_BYTES) {
    throw new InvalidArgumentError(
      `op.value is ${bytes} bytes; a KV value holds at most ${MAX_VALUE_BYTES}`,
      'op.value',
    );
  }
  return v;
}

function uint(v: unknown, field: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) {
    throw new InvalidArgumentError(`${field} must be a non-negative integer`, field);
  }
  return v as number;
}

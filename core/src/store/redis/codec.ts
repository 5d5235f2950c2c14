/**
 * The Redis store's data layout and the translation between it and the store types.
 *
 * Every key of a namespace carries the hash tag `{cw:<namespace>}`, so in Redis Cluster
 * they all live in one slot. That is what lets a single Lua script read and write all of
 * them atomically; the price is that one namespace cannot be spread over several shards
 * (use several namespaces for that). Per namespace:
 *
 * - `…:index`  string, the store-wide index of the last committed write
 * - `…:keys`   sorted set of every key at score 0, for ZRANGEBYLEX prefix listing
 * - `…:values` hash key → value bytes
 * - `…:meta`   hash key → "flags createIndex modifyIndex lockIndex[ session]"
 * - `…:log`    stream of change batches with IDs `<index>-0`, trimmed to about the history
 *              limit; each entry has `e` (epoch), `n` (a random nonce), `p` (the nonce of
 *              the entry before it, '' for none) and `b` (the batch, see {@link decodeBatch})
 * - `…:epoch`  random ID of this incarnation of the data, so a watcher can tell "Redis came
 *              back empty and new writes reused my index numbers" from "nothing happened"
 */
import { CorruptDataError, InvalidArgumentError } from '../../errors.ts';
import type { ChangeBatch, Entry, KeyChange, TxnOp } from '../types.ts';

export interface RedisKeys {
  index: string;
  keys: string;
  values: string;
  meta: string;
  log: string;
  epoch: string;
}

export function redisKeys(namespace: string): RedisKeys {
  const tag = `{cw:${namespace}}`;
  return {
    index: `${tag}:index`,
    keys: `${tag}:keys`,
    values: `${tag}:values`,
    meta: `${tag}:meta`,
    log: `${tag}:log`,
    epoch: `${tag}:epoch`,
  };
}

export type ScriptArg = string | Buffer;

/** The 7 ARGV slots per op the transaction script reads (see `TXN_LUA`). */
export function encodeTxnOps(ops: readonly TxnOp[]): ScriptArg[] {
  const args: ScriptArg[] = [];
  for (const op of ops) {
    const write = op.op === 'set' || op.op === 'cas';
    args.push(
      op.op,
      op.key,
      write ? op.value : '',
      // A put without flags stores 0, as Consul does.
      write ? String(op.flags ?? 0) : '',
      'index' in op ? String(op.index) : '',
      write ? encodeSession(op.session) : op.op === 'check-session' ? encodeHolder(op) : '',
      write && op.lockIndex !== undefined ? String(op.lockIndex) : '',
    );
  }
  return args;
}

/** A write's session: undefined keeps the current holder. */
function encodeSession(session: string | null | undefined): string {
  if (session === undefined) return '';
  return session === null ? '-' : `=${session}`;
}

/**
 * The holder a check-session expects: null for "not locked", or a session. There is no
 * "keep" here; validation refuses an omitted session, and so does this (and the script).
 */
function encodeHolder(op: Extract<TxnOp, { op: 'check-session' }>): string {
  const session: unknown = op.session;
  if (session === null) return '-';
  if (typeof session !== 'string') {
    throw new InvalidArgumentError('check-session needs a session, or null for none', 'session');
  }
  return `=${session}`;
}

const metaPattern = /^(\d+) (\d+) (\d+) (\d+)(?: ([\s\S]*))?$/;

/** Build an entry from its stored parts; the value is copied so callers own it. */
export function decodeEntry(key: string, meta: Buffer | string, value: Buffer | null): Entry {
  const m = metaPattern.exec(meta.toString());
  if (m === null || value === null) {
    throw new CorruptDataError(`redis entry ${JSON.stringify(key)} has malformed metadata`);
  }
  const entry: Entry = {
    key,
    value: Buffer.from(value),
    flags: Number(m[1]),
    createIndex: Number(m[2]),
    modifyIndex: Number(m[3]),
    lockIndex: Number(m[4]),
  };
  if (m[5] !== undefined && m[5] !== '') entry.session = m[5];
  return entry;
}

/** A `{key, meta, value}` triple from a script reply. */
export function decodeTriple(raw: unknown): Entry {
  if (!Array.isArray(raw) || raw.length !== 3) {
    throw new CorruptDataError('unexpected entry shape in a redis script reply');
  }
  const [key, meta, value] = raw as [Buffer, Buffer, Buffer | null];
  return decodeEntry(key.toString(), meta, value);
}

/** Parse a reply number that Redis sent as an integer or a bulk string. */
export function toIndex(raw: unknown): number {
  const n = Buffer.isBuffer(raw) ? Number(raw.toString()) : Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new CorruptDataError(`redis returned ${String(raw)} where an index was expected`);
  }
  return n;
}

/**
 * A log entry's nonce: a string, null for "no entry" (or, as a previous nonce, "no entry
 * before this one"), undefined when the entry predates nonces and cannot be checked.
 */
export type Nonce = string | null | undefined;

export interface DecodedBatch {
  batch: ChangeBatch;
  epoch: string;
  nonce: Nonce;
  /** The nonce of the entry this one was written after. */
  prev: Nonce;
}

/** A nonce from a script reply: nil → null (no entry), '' → undefined (predates nonces). */
export function toNonce(raw: unknown): Nonce {
  if (raw === null || raw === undefined) return null;
  const s = Buffer.isBuffer(raw) ? raw.toString() : raw;
  if (typeof s !== 'string') throw new CorruptDataError('redis returned a malformed nonce');
  return s === '' ? undefined : s;
}

/**
 * One stream entry `[id, [field, value, …]]` into a change batch. The `b` field is a run of
 * records: `p` key meta value (a put) or `d` key (a delete), each part written as
 * `<byte length>:<bytes>`, which keeps values binary-safe without any escaping in Lua.
 */
export function decodeBatch(raw: unknown): DecodedBatch {
  if (!Array.isArray(raw) || raw.length !== 2 || !Array.isArray(raw[1])) {
    throw new CorruptDataError('unexpected stream entry shape in the redis change log');
  }
  const [id, fields] = raw as [Buffer, Buffer[]];
  const index = toIndex(id.toString().replace(/-0$/, ''));
  let epoch = '';
  let body: Buffer | undefined;
  let nonce: Nonce;
  let prev: Nonce;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!.toString();
    const value = fields[i + 1]!;
    if (name === 'e') epoch = value.toString();
    else if (name === 'b') body = value;
    else if (name === 'n') nonce = toNonce(value);
    // Written as '' when there was no entry before: that is a known "none", not unknown.
    else if (name === 'p') prev = value.length === 0 ? null : value.toString();
  }
  if (body === undefined) throw new CorruptDataError(`change log entry ${index} has no batch`);
  return { batch: { index, changes: decodeChanges(body, index) }, epoch, nonce, prev };
}

/** A deep copy, so each watcher owns what it is handed (values are mutable Buffers). */
export function copyChange(c: KeyChange): KeyChange {
  if (c.op === 'delete') return { op: 'delete', key: c.key };
  return { op: 'put', key: c.key, entry: { ...c.entry, value: Buffer.from(c.entry.value) } };
}

function decodeChanges(body: Buffer, index: number): KeyChange[] {
  const changes: KeyChange[] = [];
  let pos = 0;
  const part = (): Buffer => {
    const colon = body.indexOf(0x3a, pos);
    const len = colon === -1 ? NaN : Number(body.toString('latin1', pos, colon));
    if (!Number.isSafeInteger(len) || colon + 1 + len > body.length) {
      throw new CorruptDataError(`change log entry ${index} is malformed at byte ${pos}`);
    }
    pos = colon + 1 + len;
    return body.subarray(colon + 1, pos);
  };
  while (pos < body.length) {
    const op = body[pos++];
    const key = part().toString();
    if (op === 0x64 /* d */) {
      changes.push({ op: 'delete', key });
    } else if (op === 0x70 /* p */) {
      const meta = part();
      changes.push({ op: 'put', key, entry: decodeEntry(key, meta, part()) });
    } else {
      throw new CorruptDataError(`change log entry ${index} has an unknown record type`);
    }
  }
  return changes;
}

// Consul-style reasons for a failed op. The script reports only a kind and the current
// entry; the wording lives here so put, delete and txn explain a failure the same way.

/** The failure kinds the transaction script reports (see `TXN_LUA`). */
export type FailureKind = 'index' | 'exists' | 'missing' | 'get-missing' | 'session';

/**
 * The `what` of a failed op, e.g. `current modify index 5 does not match 3` or
 * `key "x" is not locked by session "s"`.
 */
export function describeFailure(kind: string, op: TxnOp, current: Entry | null): string {
  const key = JSON.stringify(op.key);
  switch (kind as FailureKind) {
    case 'index': {
      const wanted = 'index' in op ? op.index : undefined;
      return `current modify index ${current?.modifyIndex ?? 0} does not match ${wanted ?? '?'}`;
    }
    case 'exists':
      return `key ${key} exists`;
    case 'missing':
      return `key ${key} does not exist`;
    case 'get-missing':
      return `key ${key} doesn't exist`;
    case 'session': {
      if (current === null) return `key ${key} does not exist`;
      const wanted = op.op === 'check-session' ? op.session : null;
      if (wanted === null) {
        return `key ${key} is locked by session ${JSON.stringify(current.session ?? '')}`;
      }
      return `key ${key} is not locked by session ${JSON.stringify(wanted)}`;
    }
    default:
      return `operation failed (${kind})`;
  }
}

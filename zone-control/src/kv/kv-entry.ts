/**
 * The mapping between Consul KV and the store: user keys live under `kv/` in the store,
 * and entries leave the API in Consul's JSON shape and field order.
 */
import {
  InvalidArgumentError,
  InvalidKeyError,
  MAX_KEY_BYTES,
  validateKey,
  validatePrefix,
} from '../../../core/index.ts';
import type { Entry } from '../../../core/index.ts';

/** Where Consul's KV lives in the store. */
export const KV_PREFIX = 'kv/';

/** Longest Consul key: the store's limit less the `kv/` prefix. */
export const MAX_CONSUL_KEY_BYTES = MAX_KEY_BYTES - KV_PREFIX.length;

/** A KV entry as Consul's `/v1/kv` and `/v1/txn` answer it (`structs.DirEntry`). */
export interface ConsulEntry {
  LockIndex: number;
  Key: string;
  Flags: number;
  /** Base64; `null` for an empty value, as Consul answers. */
  Value: string | null;
  Session?: string;
  CreateIndex: number;
  ModifyIndex: number;
}

export function storeKey(consulKey: string): string {
  return KV_PREFIX + consulKey;
}

export function consulKey(storeKeyText: string): string {
  return storeKeyText.slice(KV_PREFIX.length);
}

/**
 * Consul's JSON for an entry, fields in Consul's order. Write results in a transaction
 * carry no value (`withValue: false`), as Consul blanks them.
 */
export function toConsulEntry(entry: Entry, withValue = true): ConsulEntry {
  return {
    LockIndex: entry.lockIndex,
    Key: consulKey(entry.key),
    Flags: entry.flags,
    Value: withValue && entry.value.length > 0 ? entry.value.toString('base64') : null,
    // Consul omits Session when no lock is held; the spread keeps its place in the order.
    ...(entry.session === undefined ? {} : { Session: entry.session }),
    CreateIndex: entry.createIndex,
    ModifyIndex: entry.modifyIndex,
  };
}

function checkLength(key: string, field: string): void {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_CONSUL_KEY_BYTES) {
    throw new InvalidKeyError(
      `${field} is ${bytes} bytes; the limit is ${MAX_CONSUL_KEY_BYTES}`,
      field,
    );
  }
}

/** A Consul key the store accepts (1..1021 bytes, no control characters, no `//`). */
export function validateConsulKey(key: string, field = 'key'): string {
  checkLength(key, field);
  return validateKey(key, field);
}

/** A Consul key prefix for `recurse`, `keys` and `delete-tree`; may be empty. */
export function validateConsulPrefix(prefix: string, field = 'key'): string {
  checkLength(prefix, field);
  return validatePrefix(prefix, field);
}

/**
 * The Consul key of a `/v1/kv/...` request path, URL-decoded. Clients send `/` inside a
 * key either raw or as `%2F` (the `consul` npm client does the latter); both decode to
 * the same key. `/v1/kv` and `/v1/kv/` name the empty key (the root for `recurse`).
 */
export function keyFromPath(path: string): string {
  let raw = path.slice('/v1/kv'.length);
  if (raw.startsWith('/')) raw = raw.slice(1);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidArgumentError(`Invalid URL escape in key: "${raw}"`, 'key');
  }
}

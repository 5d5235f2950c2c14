/**
 * The zone's refusals of global-KV writes, in Consul's style (plain text on `/v1/`): each
 * names the key, the global prefix it falls under, and what to do instead. Nothing is
 * written when one of these is answered, except where the text says the outcome is
 * unknown (global got the write but its answer never came back).
 */
import {
  CausewayError,
  InvalidArgumentError,
  ServiceUnavailableError,
} from '../../../core/index.ts';
import type { ErrorCode, KvWrittenMessage } from '../../../core/index.ts';
import type { ForwardFailure } from './global-kv.ts';

/** How long the zone waits for global's answer to a forwarded write. */
export const FORWARD_TIMEOUT_MS = 10_000;

const q = (s: string): string => JSON.stringify(s);

function prefixList(prefixes: readonly string[]): string {
  return prefixes.length === 1
    ? `global prefix ${q(prefixes[0] ?? '')}`
    : `global prefixes ${prefixes.map(q).join(', ')}`;
}

/** What a forwarded write is about: one key, or a tree for a recursive delete. */
export interface WriteSubject {
  key: string;
  /** The global prefix `key` lies under. */
  prefix: string;
  tree?: boolean;
}

function subjectText(s: WriteSubject): string {
  return `${s.tree ? 'keys under' : 'key'} ${q(s.key)} ${s.tree ? 'are' : 'is'} under global prefix ${q(s.prefix)}`;
}

/** 503: the sync connection is down, nothing was sent. */
export function globalUnreachable(s: WriteSubject): ServiceUnavailableError {
  return new ServiceUnavailableError(
    `global KV is read-only at this zone while the global control plane is unreachable: ${subjectText(s)}; retry when zone sync is back (GET /api/federation)`,
  );
}

/** 503 for a write global never answered: say that it may still have been applied. */
export function forwardFailed(s: WriteSubject, reason: ForwardFailure): ServiceUnavailableError {
  if (reason === 'unreachable') return globalUnreachable(s);
  const what = `the write of ${s.tree ? 'keys under' : 'key'} ${q(s.key)} (global prefix ${q(s.prefix)})`;
  return new ServiceUnavailableError(
    reason === 'timeout'
      ? `the global control plane did not answer ${what} within ${FORWARD_TIMEOUT_MS / 1000} s; it may still apply it: read the key before retrying`
      : `the zone's connection to the global control plane closed before global answered ${what}; it may have been applied: read the key before retrying`,
  );
}

/** 400: `?acquire` / `?release` on a global key. */
export function globalLockRefused(key: string, prefix: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `key ${q(key)} is under global prefix ${q(prefix)}: sessions are local to a zone, so a global key cannot be locked (?acquire) or released (?release); lock a zone key instead`,
    'key',
  );
}

/** 400: a recursive delete whose prefix reaches into global prefixes without lying inside one. */
export function treeReachesGlobal(
  prefix: string,
  globals: readonly string[],
): InvalidArgumentError {
  const each = globals.length === 1 ? q(globals[0] ?? '') : 'each of them';
  return new InvalidArgumentError(
    `cannot delete keys under ${q(prefix)} recursively: that reaches into ${prefixList(globals)}, whose keys only the global control plane deletes; delete ${each} separately (nothing was deleted)`,
    'key',
  );
}

/** The `What` of a `/v1/txn` write op on a global key (the transaction answers 409). */
export function txnWritesGlobal(verb: string, key: string, globals: readonly string[]): string {
  const head =
    verb === 'delete-tree'
      ? `delete-tree of ${q(key)} reaches into ${prefixList(globals)}`
      : `key ${q(key)} is under ${prefixList(globals)}`;
  return `${head}: write global keys with /v1/kv; a transaction at a zone writes zone keys only`;
}

/** Codes global may answer that keep their meaning (and status) at the zone. */
const CLIENT_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'CW_ERR_INVALID_ARGUMENT',
  'CW_ERR_INVALID_KEY',
  'CW_ERR_VALUE_TOO_LARGE',
  'CW_ERR_PERMISSION_DENIED',
  'CW_ERR_CONFLICT',
  'CW_ERR_NOT_FOUND',
]);

/**
 * Global refused the write (`kv-written` with `error`). A refusal of the input keeps its
 * status (400, 403, 409, 413); anything else is global failing to write: 503.
 */
export function globalRefused(
  s: WriteSubject,
  error: NonNullable<KvWrittenMessage['error']>,
): CausewayError {
  const message = `the global control plane refused the write of ${s.tree ? 'keys under' : 'key'} ${q(s.key)}: ${error.message}`;
  if (CLIENT_CODES.has(error.code)) {
    return new CausewayError(error.code as ErrorCode, message, { field: error.field });
  }
  return new ServiceUnavailableError(message);
}

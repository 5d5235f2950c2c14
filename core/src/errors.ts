/**
 * Typed errors shared by every Causeway process.
 *
 * One base class with a stable `code`, one subclass per condition (the undici habit), and
 * predicates so callers never compare message strings. HTTP layers map `code` to a status
 * and the JSON body `{ "error": { "code", "message", "field" } }` via {@link toErrorBody}.
 */

export type ErrorCode =
  | 'CW_ERR_INVALID_ARGUMENT'
  | 'CW_ERR_INVALID_KEY'
  | 'CW_ERR_VALUE_TOO_LARGE'
  | 'CW_ERR_NOT_FOUND'
  | 'CW_ERR_CONFLICT'
  | 'CW_ERR_TXN_ABORTED'
  | 'CW_ERR_STORE_UNAVAILABLE'
  | 'CW_ERR_CLOSED'
  | 'CW_ERR_CONFIG'
  | 'CW_ERR_CORRUPT_DATA'
  | 'CW_ERR_TIMEOUT'
  | 'CW_ERR_PERMISSION_DENIED'
  | 'CW_ERR_METHOD_NOT_ALLOWED'
  | 'CW_ERR_RATE_LIMITED'
  | 'CW_ERR_UNAVAILABLE'
  | 'CW_ERR_INTERNAL';

export interface CausewayErrorOptions {
  /** The input field the error is about, for validation errors (`"flags"`, `"ops[3].key"`). */
  field?: string;
  cause?: unknown;
}

export class CausewayError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options: CausewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.field = options.field;
  }

  /** Whether the same call may succeed if tried again later, unchanged. */
  isRetryable(): boolean {
    return false;
  }
}

/** A caller sent something malformed; retrying the same input will fail the same way. */
export class InvalidArgumentError extends CausewayError {
  constructor(message: string, field?: string) {
    super('CW_ERR_INVALID_ARGUMENT', message, { field });
  }
}

/** A store key breaks the key rules (see `validateKey`). */
export class InvalidKeyError extends CausewayError {
  constructor(message: string, field = 'key') {
    super('CW_ERR_INVALID_KEY', message, { field });
  }
}

/** A value is larger than the store accepts. */
export class ValueTooLargeError extends CausewayError {
  readonly limit: number;
  readonly size: number;
  constructor(size: number, limit: number, field = 'value') {
    super('CW_ERR_VALUE_TOO_LARGE', `value is ${size} bytes; the limit is ${limit} bytes`, {
      field,
    });
    this.size = size;
    this.limit = limit;
  }
}

export class NotFoundError extends CausewayError {
  constructor(message: string, field?: string) {
    super('CW_ERR_NOT_FOUND', message, { field });
  }
}

/** A check-and-set or precondition did not hold; re-read and decide again. */
export class ConflictError extends CausewayError {
  constructor(message: string, field?: string) {
    super('CW_ERR_CONFLICT', message, { field });
  }
}

/** A transaction was rolled back because one of its operations failed. */
export class TransactionAbortedError extends CausewayError {
  readonly errors: readonly { opIndex: number; what: string }[];
  constructor(errors: readonly { opIndex: number; what: string }[]) {
    const first = errors[0];
    super(
      'CW_ERR_TXN_ABORTED',
      first
        ? `transaction rolled back: op ${first.opIndex}: ${first.what}`
        : 'transaction rolled back',
      { field: first ? `ops[${first.opIndex}]` : undefined },
    );
    this.errors = errors;
  }
}

/** The backing store cannot be reached right now (network, restart, failover). */
export class StoreUnavailableError extends CausewayError {
  constructor(message: string, cause?: unknown) {
    super('CW_ERR_STORE_UNAVAILABLE', message, { cause });
  }
  override isRetryable(): boolean {
    return true;
  }
}

/** The component was closed; nothing more will be served. */
export class ClosedError extends CausewayError {
  constructor(what: string) {
    super('CW_ERR_CLOSED', `${what} is closed`);
  }
}

/** Configuration (flags, env, file) is invalid. */
export class ConfigError extends CausewayError {
  constructor(message: string, field?: string) {
    super('CW_ERR_CONFIG', message, { field });
  }
}

/** Persisted data failed an integrity check. */
export class CorruptDataError extends CausewayError {
  constructor(message: string, cause?: unknown) {
    super('CW_ERR_CORRUPT_DATA', message, { cause });
  }
}

export class TimeoutError extends CausewayError {
  constructor(message: string) {
    super('CW_ERR_TIMEOUT', message);
  }
  override isRetryable(): boolean {
    return true;
  }
}

/** The caller's token does not grant what the request needs (or the token is unknown). */
export class PermissionDeniedError extends CausewayError {
  constructor(message: string) {
    super('CW_ERR_PERMISSION_DENIED', message);
  }
}

/** The path exists but not with this HTTP method. */
export class MethodNotAllowedError extends CausewayError {
  readonly allowed: readonly string[];
  constructor(method: string, path: string, allowed: readonly string[]) {
    super('CW_ERR_METHOD_NOT_ALLOWED', `method ${method} not allowed on ${path}`);
    this.allowed = allowed;
  }
}

/** Too many requests of one kind (e.g. CSR signing); retry after `retryAfterMs`. */
export class RateLimitedError extends CausewayError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super('CW_ERR_RATE_LIMITED', message);
  }

  override isRetryable(): boolean {
    return true;
  }
}

/**
 * What the request needs cannot serve it right now: nothing healthy behind it, nothing
 * reachable, overloaded. Another try, later or elsewhere, may succeed. (The store has its
 * own {@link StoreUnavailableError}.)
 */
export class ServiceUnavailableError extends CausewayError {
  constructor(message: string, cause?: unknown) {
    super('CW_ERR_UNAVAILABLE', message, { cause });
  }

  override isRetryable(): boolean {
    return true;
  }
}

export function isCausewayError(err: unknown): err is CausewayError {
  return err instanceof CausewayError;
}

export function isNotFound(err: unknown): boolean {
  return isCausewayError(err) && err.code === 'CW_ERR_NOT_FOUND';
}

export function isConflict(err: unknown): boolean {
  return isCausewayError(err) && err.code === 'CW_ERR_CONFLICT';
}

/** True for errors worth retrying with backoff; unknown errors are not retried. */
export function isRetryable(err: unknown): boolean {
  return isCausewayError(err) && err.isRetryable();
}

const statusByCode: Record<ErrorCode, number> = {
  CW_ERR_INVALID_ARGUMENT: 400,
  CW_ERR_INVALID_KEY: 400,
  CW_ERR_VALUE_TOO_LARGE: 413,
  CW_ERR_NOT_FOUND: 404,
  CW_ERR_CONFLICT: 409,
  CW_ERR_TXN_ABORTED: 409,
  CW_ERR_STORE_UNAVAILABLE: 503,
  CW_ERR_CLOSED: 503,
  CW_ERR_CONFIG: 400,
  CW_ERR_CORRUPT_DATA: 500,
  CW_ERR_TIMEOUT: 504,
  CW_ERR_PERMISSION_DENIED: 403,
  CW_ERR_METHOD_NOT_ALLOWED: 405,
  CW_ERR_RATE_LIMITED: 429,
  CW_ERR_UNAVAILABLE: 503,
  CW_ERR_INTERNAL: 500,
};

/** The HTTP status a native API answers for an error. */
export function httpStatusOf(err: unknown): number {
  return isCausewayError(err) ? statusByCode[err.code] : 500;
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string };
}

/** The JSON body of a native API error; unknown errors never leak their message. */
export function toErrorBody(err: unknown): ErrorBody {
  if (!isCausewayError(err)) {
    return { error: { code: 'CW_ERR_INTERNAL', message: 'internal error' } };
  }
  const body: ErrorBody = { error: { code: err.code, message: err.message } };
  if (err.field !== undefined) body.error.field = err.field;
  return body;
}

/** How an HTTP API answers a failed request: status, the text it may show, its JSON body. */
export interface ErrorAnswer {
  status: number;
  /** The error's own message when it may be shown, else `internal error`. */
  message: string;
  body: ErrorBody;
}

/**
 * The answer to a request that threw `err`. Causeway errors answer their own status and
 * message; koa-style errors (from `ctx.throw`, body parsers) carry a status and say
 * whether their message may be shown (`expose`); anything else is a 500 that shows
 * nothing of itself.
 */
export function errorAnswer(err: unknown): ErrorAnswer {
  if (isCausewayError(err)) {
    return { status: httpStatusOf(err), message: err.message, body: toErrorBody(err) };
  }
  const raw = (err as { status?: unknown } | null)?.status;
  const status = typeof raw === 'number' && raw >= 400 && raw < 600 ? raw : 500;
  const exposed = (err as { expose?: boolean } | null)?.expose === true;
  const message = exposed && err instanceof Error ? err.message : 'internal error';
  const code: ErrorCode = status >= 500 ? 'CW_ERR_INTERNAL' : 'CW_ERR_INVALID_ARGUMENT';
  return { status, message, body: { error: { code, message } } };
}

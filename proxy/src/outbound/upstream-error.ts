/**
 * Why an attempt to reach an upstream failed, in the terms retry policies and outlier
 * detection use (Envoy's `connect-failure`, `reset`), plus local refusals.
 */

export type UpstreamFailure =
  /** No usable connection: refused, timed out, TLS failed, or the peer's identity is wrong. */
  | 'connect-failure'
  /** The connection broke after the request was (partly) sent, before a response. */
  | 'reset'
  /** A circuit breaker limit refused the request locally. */
  | 'overflow';

export class UpstreamError extends Error {
  constructor(
    readonly failure: UpstreamFailure,
    message: string,
    /** For overflows: the limit (`max_connections`, `max_pending_requests`, `max_requests`). */
    readonly limit?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}

/**
 * Classify an error from an upstream HTTP request. A TLS alert before any response means
 * the server refused our certificate (TLS 1.3 reports that only after `secureConnect`):
 * nothing reached the application, so it counts as a connect failure.
 */
export function classifyUpstreamError(err: Error): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code.startsWith('ERR_SSL') || code === 'ECONNREFUSED') {
    return new UpstreamError('connect-failure', err.message, undefined, { cause: err });
  }
  return new UpstreamError('reset', err.message, undefined, { cause: err });
}

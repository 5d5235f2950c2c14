/**
 * Why a tunnel stream could not be served: on the receiving gateway, the answer it gives
 * (403 not exported to the caller's zone, 404 unknown, 405 not CONNECT, 503 nothing
 * healthy or reachable); on the sending one, that answer or a failure on the way there.
 *
 * Codes follow the status: `CW_ERR_PERMISSION_DENIED`, `CW_ERR_NOT_FOUND`,
 * `CW_ERR_METHOD_NOT_ALLOWED`, and `CW_ERR_UNAVAILABLE` (core's `ServiceUnavailableError`)
 * for every 503, so logs and error bodies say "unavailable", not "timeout".
 */
import { CausewayError } from '../../../core/index.ts';
import type { ErrorCode } from '../../../core/index.ts';
import type { RefusalReason } from '../metrics.ts';

export class TunnelError extends CausewayError {
  /** The HTTP status the receiving gateway answers (or answered) with. */
  readonly status: number;

  constructor(
    readonly reason: RefusalReason,
    message: string,
    status?: number,
  ) {
    super(codeOf(reason), message);
    this.status = status ?? statusOf(reason);
  }

  /** A refusal stays a refusal; a failure on the way (503) may pass later. */
  override isRetryable(): boolean {
    return this.status === 503;
  }
}

function statusOf(reason: RefusalReason): number {
  switch (reason) {
    case 'not_exported':
    case 'peer_identity':
      return 403;
    case 'unknown_service':
    case 'unknown_zone':
    case 'unknown_name':
      return 404;
    case 'method_not_allowed':
      return 405;
    default:
      return 503;
  }
}

function codeOf(reason: RefusalReason): ErrorCode {
  switch (statusOf(reason)) {
    case 403:
      return 'CW_ERR_PERMISSION_DENIED';
    case 404:
      return 'CW_ERR_NOT_FOUND';
    case 405:
      return 'CW_ERR_METHOD_NOT_ALLOWED';
    default:
      // Nothing healthy or reachable, or no tunnel: core's ServiceUnavailableError's code.
      return 'CW_ERR_UNAVAILABLE';
  }
}

/** The reason behind a status a peer gateway answered. */
export function reasonOfStatus(status: number): RefusalReason {
  if (status === 403) return 'not_exported';
  if (status === 404) return 'unknown_service';
  if (status === 405) return 'method_not_allowed';
  if (status === 503) return 'no_healthy_endpoint';
  return 'tunnel_failure';
}

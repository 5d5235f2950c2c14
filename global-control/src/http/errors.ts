/**
 * Turning thrown errors into `{ "error": { code, message, field } }` answers, and the one
 * error the core set lacks: a request that presented no credentials at all (401, with a
 * `WWW-Authenticate` challenge), as opposed to wrong ones (403).
 */
import type { Context, Next } from 'koa';
import {
  MethodNotAllowedError,
  PermissionDeniedError,
  httpStatusOf,
  isCausewayError,
  toErrorBody,
} from '../../../core/index.ts';
import type { Logger } from '../../../core/index.ts';

/** No admin token was presented. Answers 401; its code stays CW_ERR_PERMISSION_DENIED. */
export class UnauthenticatedError extends PermissionDeniedError {}

function statusOf(err: unknown): number {
  if (err instanceof UnauthenticatedError) return 401;
  if (isCausewayError(err)) return httpStatusOf(err);
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

export function errorMiddleware(logger: Logger) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (err) {
      const status = statusOf(err);
      if (status >= 500) logger.error({ err, path: ctx.path }, 'request failed');
      else logger.debug({ err: String(err), path: ctx.path }, 'request refused');
      if (err instanceof MethodNotAllowedError) ctx.set('Allow', err.allowed.join(', '));
      if (err instanceof UnauthenticatedError)
        ctx.set('WWW-Authenticate', 'Bearer realm="causeway"');
      ctx.status = status;
      const exposed = isCausewayError(err) || (err as { expose?: boolean } | null)?.expose === true;
      const message = exposed && err instanceof Error ? err.message : 'internal error';
      ctx.body = isCausewayError(err)
        ? toErrorBody(err)
        : {
            error: {
              code: status >= 500 ? 'CW_ERR_INTERNAL' : 'CW_ERR_INVALID_ARGUMENT',
              message,
            },
          };
    }
  };
}

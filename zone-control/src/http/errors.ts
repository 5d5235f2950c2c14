/**
 * Turning thrown errors into answers. Consul-compatible paths (`/v1/...`) answer the way
 * Consul does — a status and a plain-text body — so Consul clients surface the message;
 * native paths (`/api/...`) answer `{ "error": { code, message, field } }`.
 */
import type { Context, Next } from 'koa';
import {
  MethodNotAllowedError,
  RateLimitedError,
  httpStatusOf,
  isCausewayError,
  toErrorBody,
} from '../../../core/index.ts';
import type { Logger } from '../../../core/index.ts';

/** koa-style errors (from `ctx.throw`, body parsers) carry their own status. */
function statusOf(err: unknown): number {
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
      if (err instanceof RateLimitedError) {
        ctx.set('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
      }
      ctx.status = status;
      const exposed = isCausewayError(err) || (err as { expose?: boolean } | null)?.expose === true;
      const message = exposed && err instanceof Error ? err.message : 'internal error';
      if (ctx.path.startsWith('/v1/')) {
        ctx.type = 'text/plain; charset=utf-8';
        ctx.body = `${message}\n`;
      } else {
        ctx.body = isCausewayError(err)
          ? toErrorBody(err)
          : {
              error: {
                code: status >= 500 ? 'CW_ERR_INTERNAL' : 'CW_ERR_INVALID_ARGUMENT',
                message,
              },
            };
      }
    }
  };
}

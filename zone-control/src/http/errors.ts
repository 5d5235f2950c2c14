/**
 * Turning thrown errors into answers. Consul-compatible paths (`/v1/...`) answer the way
 * Consul does — a status and a plain-text body — so Consul clients surface the message;
 * native paths (`/api/...`) answer `{ "error": { code, message, field } }`.
 */
import type { Context, Next } from 'koa';
import { MethodNotAllowedError, RateLimitedError, errorAnswer } from '../../../core/index.ts';
import type { Logger } from '../../../core/index.ts';

export function errorMiddleware(logger: Logger) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (err) {
      const { status, message, body } = errorAnswer(err);
      if (status >= 500) logger.error({ err, path: ctx.path }, 'request failed');
      else logger.debug({ err: String(err), path: ctx.path }, 'request refused');
      if (err instanceof MethodNotAllowedError) ctx.set('Allow', err.allowed.join(', '));
      if (err instanceof RateLimitedError) {
        ctx.set('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
      }
      ctx.status = status;
      if (ctx.path.startsWith('/v1/')) {
        ctx.type = 'text/plain; charset=utf-8';
        ctx.body = `${message}\n`;
      } else {
        ctx.body = body;
      }
    }
  };
}

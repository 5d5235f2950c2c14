/**
 * Turning thrown errors into `{ "error": { code, message, field } }` answers, and the one
 * error the core set lacks: a request that presented no credentials at all (401, with a
 * `WWW-Authenticate` challenge), as opposed to wrong ones (403).
 */
import type { Context, Next } from 'koa';
import { MethodNotAllowedError, PermissionDeniedError, errorAnswer } from '../../../core/index.ts';
import type { Logger } from '../../../core/index.ts';

/** No admin token was presented. Answers 401; its code stays CW_ERR_PERMISSION_DENIED. */
export class UnauthenticatedError extends PermissionDeniedError {}

export function errorMiddleware(logger: Logger) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (err) {
      const answer = errorAnswer(err);
      const status = err instanceof UnauthenticatedError ? 401 : answer.status;
      if (status >= 500) logger.error({ err, path: ctx.path }, 'request failed');
      else logger.debug({ err: String(err), path: ctx.path }, 'request refused');
      if (err instanceof MethodNotAllowedError) ctx.set('Allow', err.allowed.join(', '));
      if (err instanceof UnauthenticatedError)
        ctx.set('WWW-Authenticate', 'Bearer realm="causeway"');
      ctx.status = status;
      ctx.body = answer.body;
    }
  };
}

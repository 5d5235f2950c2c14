/**
 * JSON request bodies with a size limit, and the checks every body of this API gets: an
 * object, no field the endpoint does not know.
 */
import type { Context } from 'koa';
import { InvalidArgumentError, ValueTooLargeError } from '../../../core/index.ts';

/**
 * The raw body, refused with 413 (naming `field`) past `limit` bytes before it is
 * buffered whole: a declared length is checked first, a chunked body as it arrives.
 */
export async function readBodyBytes(ctx: Context, limit: number, field: string): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (Number.isFinite(declared) && declared > limit) {
    ctx.set('Connection', 'close');
    throw new ValueTooLargeError(declared, limit, field);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      // The rest is not read; close after answering so it is not parsed as a request.
      ctx.set('Connection', 'close');
      throw new ValueTooLargeError(size, limit, field);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** The body parsed as JSON (`{}` when empty); oversize is 413, malformed JSON 400. */
export async function readJsonBody(ctx: Context, limit: number): Promise<unknown> {
  const body = await readBodyBytes(ctx, limit, 'body');
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (err) {
    throw new InvalidArgumentError(`the body is not valid JSON: ${(err as Error).message}`, 'body');
  }
}

/**
 * `body` as an object with only `allowed` fields.
 *
 * @throws InvalidArgumentError naming the first unknown field (or `body`).
 */
export function objectBody(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidArgumentError('the body must be a JSON object', 'body');
  }
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) {
      throw new InvalidArgumentError(
        `unknown field "${key}"; expected ${allowed.length > 0 ? allowed.join(', ') : 'none'}`,
        key,
      );
    }
  }
  return body as Record<string, unknown>;
}

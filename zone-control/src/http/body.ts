/**
 * Reading request bodies with a size limit, without a body-parser dependency: Consul's KV
 * PUT takes raw bytes, the rest take JSON, and both must refuse oversize bodies before
 * buffering them whole.
 */
import type { Context } from 'koa';
import { InvalidArgumentError, ValueTooLargeError } from '../../../core/index.ts';

/** The raw body, refused with 413 once it passes `limit` bytes. */
export async function readRawBody(ctx: Context, limit: number, field = 'body'): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (Number.isFinite(declared) && declared > limit) {
    throw new ValueTooLargeError(declared, limit, field);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      // Stop reading; the connection closes after the answer so the rest is not parsed
      // as a next request.
      ctx.set('Connection', 'close');
      throw new ValueTooLargeError(size, limit, field);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** The body parsed as JSON; an empty body is `undefined`. Malformed JSON is a 400. */
export async function readJsonBody(ctx: Context, limit: number): Promise<unknown> {
  const raw = await readRawBody(ctx, limit);
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch (err) {
    throw new InvalidArgumentError(
      `Request decode failed: invalid JSON: ${(err as Error).message}`,
      'body',
    );
  }
}

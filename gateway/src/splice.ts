/**
 * Join two byte streams both ways: a downstream socket and an upstream socket, or a
 * socket and an HTTP/2 CONNECT stream. Backpressure comes from `pipe`; half-close is kept
 * (one side's end becomes the other's FIN or END_STREAM, and the answer still flows
 * back); an error or reset on either side destroys both, so no socket outlives its peer.
 *
 * Two pipes rather than `pipeline(a, b, a)`: pipeline destroys everything as soon as one
 * direction finishes, which would cut a half-closed connection's answer.
 */
import type { Duplex } from 'node:stream';

export interface SpliceResult {
  /** Set when the splice ended abnormally (an error or reset on either side). */
  error: Error | undefined;
  /** Bytes read from `a` (sent on to `b`) and from `b` (sent back to `a`). */
  aToB: number;
  bToA: number;
}

/**
 * Pipe `a` ⇄ `b` until both are closed. `head` (bytes already read from `a`, e.g. a peeked
 * ClientHello) is written to `b` first. Calls `done` once.
 */
export function splice(
  a: Duplex,
  b: Duplex,
  head: Buffer | undefined,
  done: (result: SpliceResult) => void,
): void {
  let aToB = head?.length ?? 0;
  let bToA = 0;
  let error: Error | undefined;
  let closed = 0;
  let finished = false;
  const count = (chunk: Buffer, toB: boolean): void => {
    if (toB) aToB += chunk.length;
    else bToA += chunk.length;
  };
  const fail = (err: Error): void => {
    error ??= err;
    a.destroy();
    b.destroy();
  };
  const onClose = (): void => {
    closed++;
    // One side closed: if it was not a clean finish of both directions, the other side
    // cannot complete either. Destroy it now rather than wait for a timeout that never comes.
    if (closed === 1) {
      const other = [a, b].find((s) => !s.closed);
      if (other && !(a.readableEnded && b.readableEnded)) {
        error ??= new Error('the other side closed before finishing');
        other.destroy();
      }
    }
    if (closed === 2 && !finished) {
      finished = true;
      done({ error, aToB, bToA });
    }
  };
  a.on('data', (chunk: Buffer) => count(chunk, true));
  b.on('data', (chunk: Buffer) => count(chunk, false));
  a.on('error', fail);
  b.on('error', fail);
  a.once('close', onClose);
  b.once('close', onClose);
  if (head !== undefined && head.length > 0) b.write(head);
  a.pipe(b);
  b.pipe(a);
}

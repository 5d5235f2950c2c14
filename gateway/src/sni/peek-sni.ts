/**
 * Read a connection's TLS ClientHello and hand back its SNI with every byte read so far,
 * so the caller can pass the connection on as if nothing had been read: write `data` to
 * an upstream first (passthrough, tunnel), or `socket.unshift(data)` before a TLS server
 * takes the socket (Node's TLSSocket feeds bytes already buffered in the socket it wraps
 * to the handshake).
 *
 * Bounded on both axes a client controls: bytes (`maxBytes`) and time (`timeoutMs`), so a
 * slow or endless hello cannot hold a socket and memory.
 */
import type { Socket } from 'node:net';
import { parseClientHello } from './client-hello.ts';

export interface PeekOptions {
  /** @default 10000 */
  timeoutMs?: number;
  /** Largest hello accepted (records included). @default 32768 */
  maxBytes?: number;
}

export type PeekResult =
  | { ok: true; sni: string | undefined; data: Buffer }
  | { ok: false; reason: 'bad_client_hello' | 'client_hello_timeout' | 'closed'; detail: string };

export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_HELLO_BYTES = 32_768;

/** Never rejects; the socket is left paused and untouched on failure (the caller closes it). */
export function peekSni(socket: Socket, options: PeekOptions = {}): Promise<PeekResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_HELLO_BYTES;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (result: PeekResult): void => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onEnd);
      resolve(result);
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        length += chunk.length;
      }
      const data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length);
      const hello = parseClientHello(data.subarray(0, maxBytes));
      if (hello.state === 'done') return finish({ ok: true, sni: hello.sni, data });
      if (hello.state === 'invalid') {
        return finish({ ok: false, reason: 'bad_client_hello', detail: hello.reason });
      }
      if (length >= maxBytes) {
        finish({
          ok: false,
          reason: 'bad_client_hello',
          detail: `the ClientHello exceeds ${maxBytes} bytes`,
        });
      }
    };
    const onEnd = (): void =>
      finish({ ok: false, reason: 'closed', detail: 'the client closed before its ClientHello' });
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          reason: 'client_hello_timeout',
          detail: `no complete ClientHello within ${timeoutMs} ms`,
        }),
      timeoutMs,
    );
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onEnd);
  });
}

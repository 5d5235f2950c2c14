/**
 * The keep-alive pool of one endpoint, as the "agent" `http.request` takes: an object with
 * `addRequest(req)` that hands the request a socket through `req.onSocket()`. Node's
 * `http.Agent` does the same with per-request name building, per-name maps and event
 * hops that cost ~10% of the proxy's CPU in a profile of the benchmark loop; this pool is
 * one array of idle sockets (LIFO, so the warmest connection serves and surplus ones age
 * out).
 *
 * Contract with `http.ClientRequest` (Node 20 `lib/_http_client.js`): it reads
 * `keepAlive`/`maxSockets` (to send `Connection: keep-alive`) and `options.timeout`, calls
 * `addRequest`, and when a response ends on a reusable connection it emits `'free'` on
 * the socket. A socket that must not be reused (`Connection: close`, errors) is destroyed
 * by the client and never freed.
 */
import type { ClientRequest } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { EndpointState } from './endpoint.ts';
import { isReusable } from './mtls-connector.ts';
import type { ConnectCallback } from './mtls-connector.ts';

export interface ConnectionSource {
  openConnection(endpoint: EndpointState, callback: ConnectCallback): void;
}

const kPool = Symbol('pool');
const kIdleSince = Symbol('idleSince');

interface FailableRequest {
  onSocket(socket: undefined, err: Error): void;
}

type PooledSocket = TLSSocket & { [kPool]?: EndpointPool; [kIdleSince]?: number };

/**
 * Idle connections older than this are closed rather than reused: Node servers (and our
 * inbound) close idle keep-alive connections after 5 s, and reusing one just as the
 * server closes it fails the request.
 */
export const DEFAULT_IDLE_MS = 4_000;

export class EndpointPool {
  // Read by http.ClientRequest.
  readonly keepAlive = true;
  readonly maxSockets = Infinity;
  readonly protocol = 'http:';
  readonly defaultPort = 80;
  readonly options: { timeout?: number } = {};

  readonly #idle: PooledSocket[] = [];
  #retired = false;

  constructor(
    private readonly source: ConnectionSource,
    private readonly endpoint: EndpointState,
    private readonly idleMs = DEFAULT_IDLE_MS,
  ) {}

  get idleCount(): number {
    return this.#idle.length;
  }

  addRequest(req: ClientRequest): void {
    const idle = this.#idle;
    if (idle.length > 0) {
      const now = performance.now();
      while (idle.length > 0) {
        const socket = idle.pop() as PooledSocket;
        socket.removeListener('error', onIdleError);
        if (
          socket.destroyed ||
          !socket.writable ||
          now - (socket[kIdleSince] ?? 0) > this.idleMs ||
          !isReusable(socket)
        ) {
          socket.destroy();
          continue;
        }
        req.reusedSocket = true;
        req.onSocket(socket);
        return;
      }
    }
    this.source.openConnection(this.endpoint, (err, socket) => {
      if (err !== null || socket === undefined) {
        // `onSocket(socket, err)` fails the request; @types/node declares only the socket.
        (req as unknown as FailableRequest).onSocket(undefined, err ?? new Error('no connection'));
        return;
      }
      const pooled = socket as PooledSocket;
      pooled[kPool] = this;
      pooled.on('free', onFree);
      pooled.once('close', onClose);
      req.onSocket(pooled);
    });
  }

  /** @internal a response ended and left the connection reusable. */
  release(socket: PooledSocket): void {
    if (this.#retired || socket.destroyed || !isReusable(socket)) {
      socket.destroy();
      return;
    }
    socket[kIdleSince] = performance.now();
    socket.on('error', onIdleError);
    this.#idle.push(socket);
  }

  /** @internal */
  forget(socket: PooledSocket): void {
    const i = this.#idle.indexOf(socket);
    if (i !== -1) this.#idle.splice(i, 1);
  }

  /** Stop pooling: idle connections close now, busy ones when their request ends. */
  retire(): void {
    this.#retired = true;
    this.destroyIdle();
  }

  destroyIdle(): void {
    for (const socket of this.#idle.splice(0)) socket.destroy();
  }

  /** Close idle connections that are past `idleMs` (called periodically by the cluster). */
  sweep(now: number): void {
    const idle = this.#idle;
    // Oldest first: LIFO reuse leaves them at the bottom.
    while (idle.length > 0 && now - ((idle[0] as PooledSocket)[kIdleSince] ?? 0) > this.idleMs) {
      (idle.shift() as PooledSocket).destroy();
    }
  }
}

function onFree(this: PooledSocket): void {
  this[kPool]?.release(this);
}

function onClose(this: PooledSocket): void {
  this[kPool]?.forget(this);
}

/** An idle connection failing (the server reset it) just closes. */
function onIdleError(this: PooledSocket): void {
  this.destroy();
}

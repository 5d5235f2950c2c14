/**
 * What Outbound needs from a listener of either protocol, and the socket bookkeeping they
 * share: bind without changing anything on failure, count connections in the
 * `active_connections` gauge, and close gracefully (stop accepting, let open connections
 * finish, cut them after a grace period).
 */
import type { Server, Socket } from 'node:net';
import type { Logger } from '../../../core/index.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { CompiledRoute } from './route-table.ts';

export interface ListenerContext {
  metrics: ProxyMetrics;
  logger: Logger;
  bindAddress: string;
}

export interface OutboundListenerRuntime {
  readonly name: string;
  readonly protocol: string;
  /** The port the config asked for (0: any). */
  readonly requestedPort: number;
  port(): number;
  listen(): Promise<void>;
  setRoutes(routes: CompiledRoute[]): void;
  /** Stop accepting; resolves when every connection has ended or was cut after `graceMs`. */
  close(graceMs: number): Promise<void>;
}

/** Socket tracking and the listen/close lifecycle, for both listener kinds. */
export class ListenerSockets {
  readonly #sockets = new Set<Socket>();
  readonly #gauge: { inc(): void; dec(): void };

  constructor(
    private readonly server: Server,
    context: ListenerContext,
    name: string,
  ) {
    this.#gauge = context.metrics.activeConnections.labels({
      direction: 'outbound',
      listener: name,
    });
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      this.#gauge.inc();
      socket.once('close', () => {
        this.#sockets.delete(socket);
        this.#gauge.dec();
      });
    });
  }

  listen(port: number, address: string): Promise<void> {
    const server = this.server;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen({ port, host: address, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
  }

  port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  close(graceMs: number): Promise<void> {
    const server = this.server;
    if (!server.listening) {
      for (const s of this.#sockets) s.destroy();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const s of this.#sockets) s.destroy();
      }, graceMs);
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      const idle = (server as { closeIdleConnections?: () => void }).closeIdleConnections;
      idle?.call(server);
    });
  }
}

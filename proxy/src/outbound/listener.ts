/**
 * What Outbound needs from a listener of any protocol, and the part they all share: bind
 * without changing anything on failure, count connections in the `active_connections`
 * gauge, keep per-cluster stats, swap routes in place, and close gracefully (stop
 * accepting, let open connections finish, cut them after a grace period).
 */
import type { Server, Socket } from 'node:net';
import type { Logger } from '../../../core/index.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { CompiledRoute } from './route-table.ts';
import type { UpstreamCluster } from './upstream-cluster.ts';

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

/**
 * The lifecycle and bookkeeping of a listener; a subclass builds its protocol's server,
 * hands it to {@link serve} from its constructor, and says how to make its stats.
 *
 * @typeParam TStats - the Prometheus children one listener × cluster pair records into.
 */
export abstract class OutboundListener<TStats> implements OutboundListenerRuntime {
  abstract readonly protocol: string;
  /** Swapped whole on config updates, so the socket and open connections survive them. */
  routes: readonly CompiledRoute[] = [];
  readonly metrics: ProxyMetrics;
  readonly logger: Logger;
  /** Set by {@link serve}, which every subclass constructor calls. */
  #server!: Server;
  readonly #sockets = new Set<Socket>();
  readonly #stats = new Map<string, TStats>();

  constructor(
    readonly name: string,
    readonly requestedPort: number,
    private readonly context: ListenerContext,
  ) {
    this.metrics = context.metrics;
    this.logger = context.logger.child({ listener: name });
  }

  /** The stats children for `cluster` (none: requests that matched no route), made once. */
  statsFor(cluster: UpstreamCluster | undefined): TStats {
    const key = cluster?.name ?? '';
    let stats = this.#stats.get(key);
    if (stats === undefined) {
      stats = this.newStats(key);
      this.#stats.set(key, stats);
    }
    return stats;
  }

  setRoutes(routes: CompiledRoute[]): void {
    this.routes = routes;
  }

  listen(): Promise<void> {
    const server = this.#server;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      // Not `exclusive`: in `--workers` mode every worker must share the primary's
      // listening handle for the port, as the inbound listener does.
      server.listen({ port: this.requestedPort, host: this.context.bindAddress }, () => {
        server.off('error', onError);
        resolve();
      });
    });
  }

  port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  close(graceMs: number): Promise<void> {
    const server = this.#server;
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
      // HTTP/1.1 servers: keep-alive connections with no request in flight close now
      // rather than at the grace deadline.
      const idle = (server as { closeIdleConnections?: () => void }).closeIdleConnections;
      idle?.call(server);
    });
  }

  /** The stats children for the cluster named `cluster` ('' for no cluster). */
  protected abstract newStats(cluster: string): TStats;

  /** Track `server`'s connections; called once, from the subclass constructor. */
  protected serve(server: Server): void {
    this.#server = server;
    const gauge = this.metrics.activeConnections.labels({
      direction: 'outbound',
      listener: this.name,
    });
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      gauge.inc();
      socket.once('close', () => {
        this.#sockets.delete(socket);
        gauge.dec();
      });
    });
  }
}

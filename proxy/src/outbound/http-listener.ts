/**
 * An outbound HTTP/1.1 listener: the app's requests are routed and proxied over mTLS by
 * {@link handleRequest}. Routes are swapped in place on config updates, so the listening
 * socket and the app's keep-alive connections survive them.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { Logger } from '../../../core/index.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { handleRequest } from './http-exchange.ts';
import type { ExchangeHost } from './http-exchange.ts';
import type { ListenerContext, OutboundListenerRuntime } from './listener.ts';
import { ListenerSockets } from './listener.ts';
import { ListenerStats } from './listener-stats.ts';
import type { CompiledRoute } from './route-table.ts';
import type { UpstreamCluster } from './upstream-cluster.ts';

export class HttpOutboundListener implements OutboundListenerRuntime, ExchangeHost {
  readonly protocol = 'http';
  readonly http2 = false;
  routes: readonly CompiledRoute[] = [];
  readonly metrics: ProxyMetrics;
  readonly logger: Logger;
  readonly #server: Server;
  readonly #sockets: ListenerSockets;
  readonly #stats = new Map<string, ListenerStats>();

  constructor(
    readonly name: string,
    readonly requestedPort: number,
    private readonly context: ListenerContext,
  ) {
    this.metrics = context.metrics;
    this.logger = context.logger.child({ listener: name });
    // Apps keep connections open between calls; Node's 5 s default would churn them.
    this.#server = createServer({ keepAliveTimeout: 60_000, noDelay: true }, (req, res) =>
      handleRequest(this, req, res),
    );
    this.#server.headersTimeout = 60_000;
    this.#sockets = new ListenerSockets(this.#server, context, name);
  }

  statsFor(cluster: UpstreamCluster | undefined): ListenerStats {
    const key = cluster?.name ?? '';
    let stats = this.#stats.get(key);
    if (stats === undefined) {
      stats = new ListenerStats(this.metrics, this.name, key);
      this.#stats.set(key, stats);
    }
    return stats;
  }

  setRoutes(routes: CompiledRoute[]): void {
    this.routes = routes;
  }

  listen(): Promise<void> {
    return this.#sockets.listen(this.requestedPort, this.context.bindAddress);
  }

  port(): number {
    return this.#sockets.port();
  }

  close(graceMs: number): Promise<void> {
    return this.#sockets.close(graceMs);
  }
}

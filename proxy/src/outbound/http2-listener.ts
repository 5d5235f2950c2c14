/**
 * An outbound h2c listener: the app speaks HTTP/2 over cleartext (prior knowledge) to the
 * proxy, and each stream is proxied like an HTTP/1.1 request ({@link handleRequest},
 * through Node's HTTP/2 compatibility API) over the same keep-alive mTLS HTTP/1.1 pools.
 * Upstream stays HTTP/1.1: the destination's inbound proxy speaks it.
 */
import { createServer } from 'node:http2';
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../../core/index.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { handleRequest } from './http-exchange.ts';
import type { ExchangeHost } from './http-exchange.ts';
import type { ListenerContext, OutboundListenerRuntime } from './listener.ts';
import { ListenerSockets } from './listener.ts';
import { ListenerStats } from './listener-stats.ts';
import type { CompiledRoute } from './route-table.ts';
import type { UpstreamCluster } from './upstream-cluster.ts';

export class Http2OutboundListener implements OutboundListenerRuntime, ExchangeHost {
  readonly protocol = 'http2';
  readonly http2 = true;
  routes: readonly CompiledRoute[] = [];
  readonly metrics: ProxyMetrics;
  readonly logger: Logger;
  readonly #server: Http2Server;
  readonly #sockets: ListenerSockets;
  readonly #sessions = new Set<ServerHttp2Session>();
  readonly #stats = new Map<string, ListenerStats>();

  constructor(
    readonly name: string,
    readonly requestedPort: number,
    private readonly context: ListenerContext,
  ) {
    this.metrics = context.metrics;
    this.logger = context.logger.child({ listener: name });
    // The compatibility request/response pair has the members the exchange uses.
    this.#server = createServer({}, (req, res) =>
      handleRequest(this, req as unknown as IncomingMessage, res as unknown as ServerResponse),
    );
    this.#server.on('session', (session: ServerHttp2Session) => {
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
    });
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
    // GOAWAY: open streams finish, no new ones start.
    for (const session of this.#sessions) session.close();
    return this.#sockets.close(graceMs);
  }
}

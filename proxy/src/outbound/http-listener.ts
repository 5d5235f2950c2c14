/**
 * An outbound HTTP/1.1 listener: the app's requests are routed and proxied over mTLS by
 * {@link handleRequest}. Routes are swapped in place on config updates, so the listening
 * socket and the app's keep-alive connections survive them.
 */
import { createServer } from 'node:http';
import { handleRequest } from './http-exchange.ts';
import type { ExchangeHost } from './http-exchange.ts';
import { OutboundListener } from './listener.ts';
import type { ListenerContext } from './listener.ts';
import { ListenerStats } from './listener-stats.ts';

export class HttpOutboundListener extends OutboundListener<ListenerStats> implements ExchangeHost {
  readonly protocol = 'http';
  readonly http2 = false;

  constructor(name: string, requestedPort: number, context: ListenerContext) {
    super(name, requestedPort, context);
    // Apps keep connections open between calls; Node's 5 s default would churn them.
    const server = createServer({ keepAliveTimeout: 60_000, noDelay: true }, (req, res) =>
      handleRequest(this, req, res),
    );
    server.headersTimeout = 60_000;
    this.serve(server);
  }

  protected newStats(cluster: string): ListenerStats {
    return new ListenerStats(this.metrics, this.name, cluster);
  }
}

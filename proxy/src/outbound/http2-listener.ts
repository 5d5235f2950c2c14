/**
 * An outbound h2c listener: the app speaks HTTP/2 over cleartext (prior knowledge) to the
 * proxy, and each stream is proxied like an HTTP/1.1 request ({@link handleRequest},
 * through Node's HTTP/2 compatibility API) over the same keep-alive mTLS HTTP/1.1 pools.
 * Upstream stays HTTP/1.1: the destination's inbound proxy speaks it.
 */
import { createServer } from 'node:http2';
import type { ServerHttp2Session } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { handleRequest } from './http-exchange.ts';
import type { ExchangeHost } from './http-exchange.ts';
import { OutboundListener } from './listener.ts';
import type { ListenerContext } from './listener.ts';
import { ListenerStats } from './listener-stats.ts';

export class Http2OutboundListener extends OutboundListener<ListenerStats> implements ExchangeHost {
  readonly protocol = 'http2';
  readonly http2 = true;
  readonly #sessions = new Set<ServerHttp2Session>();

  constructor(name: string, requestedPort: number, context: ListenerContext) {
    super(name, requestedPort, context);
    // The compatibility request/response pair has the members the exchange uses.
    const server = createServer({}, (req, res) =>
      handleRequest(this, req as unknown as IncomingMessage, res as unknown as ServerResponse),
    );
    server.on('session', (session: ServerHttp2Session) => {
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
    });
    this.serve(server);
  }

  override close(graceMs: number): Promise<void> {
    // GOAWAY: open streams finish, no new ones start.
    for (const session of this.#sessions) session.close();
    return super.close(graceMs);
  }

  protected newStats(cluster: string): ListenerStats {
    return new ListenerStats(this.metrics, this.name, cluster);
  }
}

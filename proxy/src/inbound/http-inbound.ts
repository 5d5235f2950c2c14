/**
 * Inbound HTTP/1.1: an HTTP server (never listening itself) that the inbound listener
 * hands authorized mTLS connections to. Each request is authorized on its own (L7 rules
 * see method, path and headers), then forwarded to the local app over a keep-alive pool,
 * bodies streamed both ways. The app learns the caller from `x-causeway-source` (the
 * verified SPIFFE ID; a value the caller sent is replaced, never trusted).
 */
import http from 'node:http';
import type {
  IncomingHttpHeaders,
  IncomingMessage,
  OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream';
import { PermissionDeniedError, toErrorBody } from '../../../core/index.ts';
import type { Authorization, Logger } from '../../../core/index.ts';
import { pathOf } from '../http-match.ts';
import type { PeerIdentity } from '../mesh-tls.ts';
import { ProxyMetrics } from '../metrics.ts';
import { authorize } from './authorize.ts';
import { INBOUND_LISTENER, LOCAL_APP_CLUSTER } from './local-app.ts';
import type { LocalApp } from './local-app.ts';

/** How long an idle client connection stays open (Node's default is 5 s). */
export const INBOUND_IDLE_TIMEOUT_MS = 60_000;

/** The header carrying the caller's SPIFFE ID to the app. */
export const SOURCE_HEADER = 'x-causeway-source';

// RFC 9110 §7.6.1: hop-by-hop headers apply to one connection and are not forwarded.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export interface HttpInboundOptions {
  app: LocalApp;
  metrics: ProxyMetrics;
  logger: Logger;
  /** The authorization in force; read per request so a new snapshot applies at once. */
  authorization: () => Authorization;
  /** The verified caller of a connection, set by the listener before hand-over. */
  peerOf: (socket: Socket) => PeerIdentity | undefined;
  /** One info line per request. @default true */
  accessLog?: boolean;
}

export class HttpInbound {
  readonly #server: http.Server;
  readonly #agent = new http.Agent({ keepAlive: true, scheduling: 'lifo' });

  constructor(private readonly options: HttpInboundOptions) {
    this.#server = http.createServer(
      // Peer proxies pool connections to us: an idle timeout well above their pools' idle
      // time keeps us from closing a socket just as a peer reuses it (a reset, then a retry).
      { noDelay: true, keepAliveTimeout: INBOUND_IDLE_TIMEOUT_MS },
      (req, res) => this.#handle(req, res),
    );
    // A client error (a malformed request) answers 400 and closes, as Node does by default;
    // the listener only needs it not to become an uncaught 'error'.
    this.#server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (socket.writable && err.code !== 'ECONNRESET') {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      } else socket.destroy();
    });
  }

  /** Serve HTTP on an accepted, authenticated connection. */
  accept(socket: Socket): void {
    this.#server.emit('connection', socket);
  }

  /** Close client connections with no request in flight (draining). */
  closeIdle(): void {
    this.#server.closeIdleConnections();
  }

  /** Close every client connection and the app pool. */
  close(): void {
    this.#server.closeAllConnections();
    this.#agent.destroy();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const { metrics, logger } = this.options;
    const peer = this.options.peerOf(req.socket);
    const path = pathOf(req.url);
    const method = req.method ?? 'GET';
    const done = (status: number | string): void => {
      const seconds = (performance.now() - started) / 1000;
      const labels = {
        direction: 'inbound',
        listener: INBOUND_LISTENER,
        cluster: LOCAL_APP_CLUSTER,
      };
      metrics.requests.inc({ ...labels, code_class: ProxyMetrics.codeClass(status) });
      metrics.requestDuration.observe(labels, seconds);
      if (this.options.accessLog !== false) {
        logger.info(
          {
            method,
            path,
            status,
            durationMs: Math.round(seconds * 1e4) / 10,
            source: peer?.spiffeId,
            traceparent: req.headers.traceparent,
          },
          'inbound request',
        );
      }
    };
    if (peer === undefined) {
      // The listener hands over only verified connections; this is a bug guard.
      req.socket.destroy();
      return;
    }
    const decision = authorize(this.options.authorization(), peer, {
      method,
      path,
      headers: req.headers,
    });
    if (!decision.allowed) {
      metrics.authzDenied.inc({ source_service: peer.service });
      const body = JSON.stringify(
        toErrorBody(
          new PermissionDeniedError(
            `${peer.spiffeId} may not ${method} ${path}: ${decision.reason}`,
          ),
        ),
      );
      res.writeHead(403, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
      done(403);
      // Drain what the client sent so the connection stays usable.
      req.resume();
      return;
    }
    this.#forward(req, res, peer, done);
  }

  #forward(
    req: IncomingMessage,
    res: ServerResponse,
    peer: PeerIdentity,
    done: (status: number | string) => void,
  ): void {
    const { app } = this.options;
    const headers = forwardedHeaders(req.headers);
    headers[SOURCE_HEADER] = peer.spiffeId;
    const upstream = http.request({
      host: app.address,
      port: app.port,
      method: req.method,
      path: req.url,
      headers,
      agent: this.#agent,
    });
    upstream.on('socket', (s) => s.setNoDelay(true));
    let answered = false;
    upstream.on('response', (ares) => {
      answered = true;
      const status = ares.statusCode ?? 502;
      res.writeHead(
        status,
        ares.statusMessage,
        forwardedHeaders(ares.headers) as OutgoingHttpHeaders,
      );
      pipeline(ares, res, (err) => {
        // A failure mid-body cannot be turned into a status; the client sees a reset.
        if (err) res.destroy();
        done(err ? 'reset' : status);
      });
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      // After the response started, its pipeline reports the failure.
      if (answered) return;
      if (res.headersSent) {
        res.destroy();
        done('reset');
        return;
      }
      const body = `upstream connect error: ${err.code ?? err.message}\n`;
      res.writeHead(503, {
        'content-type': 'text/plain',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
      done(503);
    });
    // Not pipeline(): it would destroy `req` on an app error, and with it the client's
    // connection, before the 503 is written.
    req.pipe(upstream);
    req.once('error', () => upstream.destroy());
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
  }
}

/** Request or response headers without hop-by-hop ones (and those `Connection` names). */
function forwardedHeaders(source: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connection = source.connection;
  const named =
    connection === undefined ? undefined : new Set(connection.toLowerCase().split(/\s*,\s*/));
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named?.has(name)) continue;
    out[name] = value;
  }
  return out;
}

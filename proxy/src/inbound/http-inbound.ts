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
import { InvalidArgumentError, PermissionDeniedError, toErrorBody } from '../../../core/index.ts';
import type { Authorization, Logger } from '../../../core/index.ts';
import type { Counter, Histogram } from 'prom-client';
import { authorityOf, normalizeTarget, pathOf } from '../http-match.ts';
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
  // HTTP/2-specific; an HTTP/2 client of the calling proxy must never see it.
  'http2-settings',
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
  /** Time for a request's headers to arrive before a 408 (slowloris). @default 60000 */
  headersTimeoutMs?: number;
  /** Time for a whole request to arrive before a 408. @default 300000 */
  requestTimeoutMs?: number;
}

/** The labels every inbound HTTP request's metrics carry (one object, not one per request). */
const LABELS = {
  direction: 'inbound',
  listener: INBOUND_LISTENER,
  cluster: LOCAL_APP_CLUSTER,
} as const;

export class HttpInbound {
  readonly #server: http.Server;
  // noDelay here sets it once per pooled connection, not once per request.
  readonly #agent = new http.Agent({ keepAlive: true, scheduling: 'lifo', noDelay: true });
  // prom-client hashes a label object on every call: resolve the children once.
  readonly #duration: Histogram.Internal<string>;
  readonly #requests = new Map<string, Counter.Internal>();

  constructor(private readonly options: HttpInboundOptions) {
    this.#duration = options.metrics.requestDuration.labels(LABELS);
    const requestTimeout = options.requestTimeoutMs ?? 300_000;
    const headersTimeout = Math.min(options.headersTimeoutMs ?? 60_000, requestTimeout);
    this.#server = http.createServer(
      {
        noDelay: true,
        // Peer proxies pool connections to us: an idle timeout well above their pools' idle
        // time keeps us from closing a socket just as a peer reuses it (a reset, then a retry).
        keepAliveTimeout: INBOUND_IDLE_TIMEOUT_MS,
        headersTimeout,
        requestTimeout,
        // How often Node looks for requests past those timeouts (its default is 30 s).
        connectionsCheckingInterval: Math.max(100, Math.min(5_000, headersTimeout / 4)),
      },
      (req, res) => this.#handle(req, res, false),
    );
    // Node enforces headersTimeout and requestTimeout from a timer that a server starts
    // when it emits 'listening' (setupConnectionsTracking in lib/_http_server.js). This
    // server never listens (the TLS listener hands it connections), so without this any
    // mesh peer could hold connections open with a request that never completes.
    this.#server.emit('listening');
    // `Expect: 100-continue`: answer 100 only once the request is authorized, so that a
    // caller that may not send the body is not invited to.
    this.#server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) =>
      this.#handle(req, res, true),
    );
    // A client error (a malformed request) answers 400 and closes, as Node does by default;
    // the listener only needs it not to become an uncaught 'error'.
    this.#server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (socket.writable && err.code !== 'ECONNRESET') {
        socket.end(
          err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n'
            : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n',
        );
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
    // Stops the timeout checks started in the constructor (the server has no socket).
    this.#server.close();
    this.#agent.destroy();
  }

  #handle(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void {
    const started = performance.now();
    const { metrics, logger } = this.options;
    const peer = this.options.peerOf(req.socket);
    const url = req.url ?? '/';
    // Rules are matched against, and the app receives, one normalised form of the path:
    // otherwise `/api/../admin` or `/%61dmin` would pass a deny on `/admin` and reach it.
    const target = normalizeTarget(url);
    const path = target === undefined ? pathOf(url) : pathOf(target);
    const method = req.method ?? 'GET';
    const done = (status: number | string): void => {
      const seconds = (performance.now() - started) / 1000;
      this.#countRequest(status);
      this.#duration.observe(seconds);
      // Checked first so that at `warn` no log object is built per request.
      if (this.options.accessLog !== false && logger.isLevelEnabled('info')) {
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
    if (target === undefined) {
      reject(
        res,
        400,
        new InvalidArgumentError(
          `request target ${JSON.stringify(url)}: an encoded '/' or '\\', or not a path`,
          'path',
        ),
      );
      done(400);
      req.resume();
      return;
    }
    const decision = authorize(this.options.authorization(), peer, {
      method,
      path,
      headers: req.headers,
    });
    if (!decision.allowed) {
      metrics.authzDenied.inc({ source_service: peer.service });
      reject(
        res,
        403,
        new PermissionDeniedError(`${peer.spiffeId} may not ${method} ${path}: ${decision.reason}`),
      );
      done(403);
      // Drain what the client sent so the connection stays usable.
      req.resume();
      return;
    }
    if (expectsContinue) res.writeContinue();
    this.#forward(req, res, peer, target, done);
  }

  #countRequest(status: number | string): void {
    const codeClass = ProxyMetrics.codeClass(status);
    let counter = this.#requests.get(codeClass);
    if (counter === undefined) {
      counter = this.options.metrics.requests.labels({ ...LABELS, code_class: codeClass });
      this.#requests.set(codeClass, counter);
    }
    counter.inc();
  }

  #forward(
    req: IncomingMessage,
    res: ServerResponse,
    peer: PeerIdentity,
    target: string,
    done: (status: number | string) => void,
  ): void {
    const { app } = this.options;
    const headers = forwardedHeaders(req.headers);
    headers[SOURCE_HEADER] = peer.spiffeId;
    // An absolute-form target names the host; a Host header sent with it is ignored
    // (RFC 9112 §3.2.2).
    const authority = target !== req.url ? authorityOf(req.url ?? '') : undefined;
    if (authority !== undefined) headers.host = authority;
    const upstream = http.request({
      host: app.address,
      port: app.port,
      method: req.method,
      path: target,
      headers,
      agent: this.#agent,
    });
    let answered = false;
    /** Set once the app's response is being relayed; `res` closing then settles it. */
    let responseStatus: number | undefined;
    const badGateway = (reason: string): void => {
      answered = true;
      upstream.destroy();
      if (res.headersSent) {
        res.destroy();
        done('reset');
        return;
      }
      const body = `invalid response from the app: ${reason}\n`;
      res.writeHead(502, 'Bad Gateway', {
        'content-type': 'text/plain',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
      done(502);
    };
    // A 101 the app sends on its own (the proxy forwards no Upgrade): without an 'upgrade'
    // listener Node's client neither emits 'response' nor an error, and the call hangs.
    upstream.on('upgrade', (_ares: IncomingMessage, socket: Socket) => {
      socket.destroy();
      badGateway('unexpected 101 Switching Protocols');
    });
    upstream.on('response', (ares) => {
      answered = true;
      const status = ares.statusCode ?? 0;
      if (status < 100) {
        ares.destroy();
        badGateway(`invalid status ${status}`);
        return;
      }
      try {
        res.writeHead(
          status,
          ares.statusMessage,
          forwardedHeaders(ares.headers) as OutgoingHttpHeaders,
        );
      } catch (err) {
        // What Node's client parser accepts but its server refuses to send (a control
        // character in the reason phrase or a header value).
        ares.destroy();
        badGateway((err as Error).message);
        return;
      }
      // pipe() and our own error handling rather than pipeline(): pipeline creates and
      // aborts an AbortController per call, a measurable share of the inbound's CPU time.
      // The request is counted when `res` closes (below).
      responseStatus = status;
      // A failure mid-body cannot be turned into a status; the client sees a reset.
      ares.on('error', () => res.destroy());
      ares.once('close', () => {
        if (!ares.complete) res.destroy();
      });
      ares.pipe(res);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      // After the response started, the relay's handlers (and `res` closing) report it.
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
    if (hasBody(req.headers)) {
      // Not pipeline(): it would destroy `req` on an app error, and with it the client's
      // connection, before the 503 is written.
      req.pipe(upstream);
    } else {
      // No body (RFC 9112 §6.3: neither Transfer-Encoding nor a non-zero Content-Length),
      // the usual case: nothing to stream, so no pipe to set up and tear down. Node's
      // server reads the (empty) request to its end once the response is sent.
      upstream.end();
    }
    req.once('error', () => upstream.destroy());
    res.once('close', () => {
      const finished = res.writableFinished;
      if (!finished) upstream.destroy();
      if (responseStatus !== undefined) done(finished ? responseStatus : 'reset');
    });
  }
}

/** Whether a request has a body to forward (RFC 9112 §6.3). */
function hasBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** An error answer as JSON (`toErrorBody`). */
function reject(res: ServerResponse, status: number, err: Error): void {
  const body = JSON.stringify(toErrorBody(err));
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Request or response headers without hop-by-hop ones (and those `Connection` names). */
function forwardedHeaders(source: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connection = source.connection;
  // `Connection: keep-alive` (the usual value) names only a hop-by-hop header anyway.
  const named =
    connection === undefined || connection === 'keep-alive'
      ? undefined
      : new Set(connection.toLowerCase().split(/\s*,\s*/));
  for (const name in source) {
    const value = source[name];
    if (value === undefined || HOP_BY_HOP.has(name) || named?.has(name)) continue;
    out[name] = value;
  }
  return out;
}

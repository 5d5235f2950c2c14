/**
 * The inbound mTLS listener: every connection must present a leaf our trust bundle
 * verifies (TLS refuses others before we see them) and pass {@link MeshTls.checkPeer}
 * (SPIFFE ID in our trust domain, inside its intermediate's zone, not revoked) before a
 * byte of app data is read. Then authorization: per connection for TCP, per request for
 * HTTP. The TLS context is read per handshake, so a renewed leaf or a new bundle applies
 * to new connections while established ones carry on; a revocation closes the revoked
 * peer's open connections at once.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import type { Authorization, Logger, ProxyConfig } from '../../../core/index.ts';
import { ClosedError } from '../../../core/index.ts';
import type { MeshTls, PeerIdentity } from '../mesh-tls.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { authorize } from './authorize.ts';
import { keepOwnTicketKeys, setDefaultSecureContext } from './default-context.ts';
import { HttpInbound } from './http-inbound.ts';
import { INBOUND_LISTENER } from './local-app.ts';
import type { LocalApp } from './local-app.ts';
import { forwardTcp } from './tcp-inbound.ts';

export interface InboundOptions {
  tls: MeshTls;
  metrics: ProxyMetrics;
  logger: Logger;
  /** Where the listener binds. @default "0.0.0.0" */
  bindAddress?: string;
  app: LocalApp;
  /** One info line per request (HTTP) or connection (TCP). @default true */
  accessLog?: boolean;
  /** How long {@link Inbound.close} lets open connections finish. @default 5000 */
  drainMs?: number;
  /** HTTP: time for a request's headers to arrive, then 408. @default 60000 */
  headersTimeoutMs?: number;
  /** HTTP: time for a whole request (headers and body) to arrive, then 408. @default 300000 */
  requestTimeoutMs?: number;
}

/** Until a snapshot arrives nobody is allowed in. */
const DENY_ALL: Authorization = { defaultAction: 'deny', rules: [] };

export class Inbound {
  readonly #server: tls.Server;
  readonly #http: HttpInbound;
  /** Open connections and who is on the other end, for revocation re-checks. */
  readonly #peers = new Map<TLSSocket, PeerIdentity>();
  #protocol: 'tcp' | 'http' = 'tcp';
  #authorization: Authorization = DENY_ALL;
  #listening: Promise<number> | undefined;
  #closed = false;
  readonly #offChange: () => void;

  constructor(private readonly options: InboundOptions) {
    const mesh = options.tls;
    this.#server = tls.createServer({
      requestCert: true,
      rejectUnauthorized: true,
      noDelay: true,
      allowHalfOpen: true,
      // Read per handshake: rotation applies to the next connection, not the open ones.
      SNICallback: (_name, cb) => {
        try {
          cb(null, mesh.secureContext());
        } catch (err) {
          cb(err as Error);
        }
      },
    });
    keepOwnTicketKeys(this.#server);
    this.#server.on('secureConnection', (socket: TLSSocket) => this.#accept(socket));
    this.#server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      options.metrics.tlsHandshakes.inc({
        direction: 'inbound',
        outcome: 'error',
        resumed: 'false',
      });
      options.logger.debug(
        { err: err.code ?? err.message, remote: socket.remoteAddress },
        'inbound TLS handshake failed',
      );
    });
    this.#http = new HttpInbound({
      app: options.app,
      metrics: options.metrics,
      logger: options.logger,
      authorization: () => this.#authorization,
      peerOf: (socket) => this.#peers.get(socket as TLSSocket),
      accessLog: options.accessLog,
      headersTimeoutMs: options.headersTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs,
    });
    this.#offChange = mesh.onChange(() => this.#onTlsChange());
    this.#installDefaultContext();
  }

  /** Bind the listener (port 0: any free port); resolves with the bound port. Idempotent. */
  listen(port: number): Promise<number> {
    if (this.#closed) return Promise.reject(new ClosedError('the inbound listener is closed'));
    this.#listening ??= (async () => {
      this.#server.listen(port, this.options.bindAddress ?? '0.0.0.0');
      await once(this.#server, 'listening');
      const bound = this.port();
      this.options.logger.info(
        { port: bound, address: this.options.bindAddress ?? '0.0.0.0' },
        'inbound listening',
      );
      return bound;
    })();
    return this.#listening;
  }

  /**
   * Take the snapshot's protocol and authorization. Established connections stay; the new
   * policy decides every later connection (TCP) or request (HTTP). Binds
   * `config.inbound.port` if {@link listen} was not called.
   */
  async apply(config: ProxyConfig): Promise<void> {
    this.#protocol = config.inbound.protocol;
    this.#authorization = config.inbound.authorization;
    await this.listen(config.inbound.port);
  }

  port(): number {
    const address = this.#server.address() as AddressInfo | null;
    if (address === null) throw new ClosedError('the inbound listener is not listening');
    return address.port;
  }

  /** Open client connections. */
  connections(): number {
    return this.#peers.size;
  }

  /**
   * Stop accepting, let open connections finish for up to `drainMs` (HTTP connections
   * close as soon as they are idle), then close the rest.
   */
  async close(drainMs = this.options.drainMs ?? 5000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#offChange();
    const closed = this.#server.listening
      ? new Promise<void>((resolve) => this.#server.close(() => resolve()))
      : Promise.resolve();
    const deadline = Date.now() + drainMs;
    while (this.#peers.size > 0 && Date.now() < deadline) {
      this.#http.closeIdle();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const socket of this.#peers.keys()) socket.destroy();
    this.#http.close();
    await closed;
  }

  #accept(socket: TLSSocket): void {
    const { metrics, logger } = this.options;
    socket.on('error', (err: NodeJS.ErrnoException) =>
      logger.debug({ err: err.code ?? err.message }, 'inbound connection error'),
    );
    const resumed = String(socket.isSessionReused());
    // rejectUnauthorized already refused untrusted chains; this is a second lock.
    const peer = socket.authorized
      ? this.options.tls.checkPeer(socket)
      : new Error(String(socket.authorizationError));
    if (peer instanceof Error) {
      metrics.tlsHandshakes.inc({ direction: 'inbound', outcome: 'refused', resumed });
      logger.warn({ err: peer.message, remote: socket.remoteAddress }, 'inbound peer refused');
      socket.destroy();
      return;
    }
    metrics.tlsHandshakes.inc({ direction: 'inbound', outcome: 'ok', resumed });
    if (this.#protocol === 'tcp') {
      const decision = authorize(this.#authorization, peer);
      if (!decision.allowed) {
        metrics.authzDenied.inc({ source_service: peer.service });
        logger.info(
          { source: peer.spiffeId, reason: decision.reason },
          'inbound connection denied',
        );
        socket.destroy();
        return;
      }
    }
    this.#peers.set(socket, peer);
    metrics.activeConnections.inc({ direction: 'inbound', listener: INBOUND_LISTENER });
    socket.once('close', () => {
      this.#peers.delete(socket);
      metrics.activeConnections.dec({ direction: 'inbound', listener: INBOUND_LISTENER });
    });
    if (this.#protocol === 'http') this.#http.accept(socket);
    else
      forwardTcp(socket, peer, this.options.app, metrics, logger, this.options.accessLog !== false);
  }

  #onTlsChange(): void {
    this.#installDefaultContext();
    // A revocation ends the revoked peer's open connections: waiting for them to close on
    // their own would leave a revoked identity connected for as long as it likes.
    for (const [socket, peer] of this.#peers) {
      const check = this.options.tls.checkPeer(socket);
      if (check instanceof Error) {
        this.options.logger.warn(
          { source: peer.spiffeId, err: check.message },
          'closing an inbound connection whose peer is no longer trusted',
        );
        socket.destroy();
      }
    }
  }

  #installDefaultContext(): void {
    if (!this.options.tls.ready()) return;
    setDefaultSecureContext(this.#server, this.options.tls.secureContext());
  }
}

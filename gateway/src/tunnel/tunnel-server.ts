/**
 * The receiving end of tunnels: TLS terminated with the gateway's identity (ALPN `h2`, a
 * client certificate required), then HTTP/2 whose CONNECT streams each carry one
 * connection to a service of this zone.
 *
 * The public listener has already peeked the ClientHello (SNI `gateway.<zone>.<td>`) and
 * put the bytes back, then hands the socket over with {@link accept}. The client must be
 * a gateway of another zone of our trust domain, checked right after the TLS handshake and
 * before HTTP/2 starts: a refused client sees the connection close without our SETTINGS,
 * which its pool counts as a failed gateway (were the check made on the HTTP/2 session,
 * our SETTINGS could already be on their way and the session would look usable for a
 * moment). Hence two servers: a TLS server that verifies, and an HTTP/2 server that is
 * handed only verified sockets (`secureConnection`) and never listens itself. Each stream's `:authority` must name a service of this zone
 * exported to the client's zone: 403 when it is not exported there, 404 when unknown (or
 * in another zone), 503 when no healthy instance can be reached, 405 for anything but
 * CONNECT; otherwise 200, and the stream is spliced to the instance's sidecar. The inner
 * TLS (proxy to proxy) passes through untouched.
 */
import http2 from 'node:http2';
import type { Http2SecureServer, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { toErrorBody } from '../../../core/index.ts';
import type { Logger, TunnelSettings } from '../../../core/index.ts';
import type { GatewayPeerIdentity, GatewayTls } from '../identity/gateway-tls.ts';
import type { GatewayMetrics, RefusalReason } from '../metrics.ts';
import type { Relays } from '../relays.ts';
import { dialEndpoint } from '../routing/dial-endpoint.ts';
import type { RoutingState } from '../routing/routing-state.ts';
import { authorityHost, parseMeshName } from '../sni/mesh-names.ts';
import { splice } from '../splice.ts';
import { TunnelError } from './tunnel-error.ts';
import { PING_INTERVAL_MS } from './tunnel-session.ts';

/** An inbound session with no frames (not even the client's pings) for this long is dead. */
const DEAD_SESSION_MS = 4 * PING_INTERVAL_MS;
const STREAM_WINDOW = 1 << 20;
const SESSION_WINDOW = 16 << 20;

interface InboundSession {
  peer: GatewayPeerIdentity;
  openedAt: number;
  streams: number;
}

export interface InboundStatus {
  peer: string;
  zone: string;
  streams: number;
  openedAt: string;
}

export interface TunnelServerDeps {
  tls: GatewayTls;
  /** The state to route by, undefined before the first config. */
  routing: () => RoutingState | undefined;
  metrics: GatewayMetrics;
  logger: Logger;
  relays: Relays;
}

export class TunnelServer {
  readonly #tls: tls.Server;
  readonly #server: Http2SecureServer;
  readonly #sessions = new Map<ServerHttp2Session, InboundSession>();
  readonly #unsubscribe: () => void;
  /** The peer of the socket being handed to the HTTP/2 server (its 'session' is synchronous). */
  #handing: GatewayPeerIdentity | undefined;

  constructor(private readonly deps: TunnelServerDeps) {
    this.#tls = tls.createServer({
      // The context is read per connection so renewals apply to new tunnels only.
      SNICallback: (_name, cb) => {
        try {
          cb(null, deps.tls.secureContext());
        } catch (err) {
          cb(err as Error, undefined);
        }
      },
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
      // Node's default is 120 s; a peer gateway that cannot finish a handshake in 10 is gone.
      handshakeTimeout: 10_000,
    });
    this.#tls.on('secureConnection', (socket) => this.#onSecure(socket));
    this.#tls.on('tlsClientError', (err: Error) => {
      deps.metrics.refuse('public', 'peer_identity');
      deps.logger.info({ err: err.message }, 'tunnel TLS handshake failed');
    });
    this.#server = http2.createSecureServer({
      allowHTTP1: false,
      settings: { enablePush: false, initialWindowSize: STREAM_WINDOW },
    });
    this.#server.on('session', (session) => this.#onSession(session));
    this.#server.on('stream', (stream, headers) => this.#onStream(stream, headers));
    this.#unsubscribe = deps.tls.onChange(() => this.#recheck());
  }

  /** Serve a socket whose ClientHello was peeked and put back (`socket.unshift`). */
  accept(socket: Socket): void {
    this.#tls.emit('connection', socket);
  }

  /** Our stream limit, advertised in SETTINGS to sessions opened from now on. */
  updateSettings(settings: TunnelSettings): void {
    this.#server.updateSettings({
      enablePush: false,
      initialWindowSize: STREAM_WINDOW,
      maxConcurrentStreams: settings.maxStreamsPerSession,
    });
  }

  status(): InboundStatus[] {
    return [...this.#sessions.values()].map((s) => ({
      peer: s.peer.spiffeId,
      zone: s.peer.zone,
      streams: s.streams,
      openedAt: new Date(s.openedAt).toISOString(),
    }));
  }

  /** GOAWAY to every session: open streams finish, no new ones. */
  close(): void {
    this.#unsubscribe();
    for (const session of this.#sessions.keys()) session.close();
  }

  destroy(): void {
    for (const session of this.#sessions.keys()) session.destroy();
  }

  /** A TLS handshake whose chain verified: check the peer, then hand it to HTTP/2. */
  #onSecure(socket: TLSSocket): void {
    const { tls: identity, metrics, logger } = this.deps;
    socket.on('error', () => undefined);
    const own = identity.self();
    const peer =
      socket.alpnProtocol !== 'h2'
        ? new Error(`the client did not negotiate h2 (ALPN ${String(socket.alpnProtocol)})`)
        : own === undefined
          ? new Error('the gateway has no identity yet')
          : identity.checkPeer(socket, { notZone: own.zone });
    if (peer instanceof Error) {
      metrics.refuse('public', 'peer_identity');
      logger.warn({ err: peer.message, remote: socket.remoteAddress }, 'tunnel refused');
      socket.destroy();
      return;
    }
    this.#handing = peer;
    try {
      this.#server.emit('secureConnection', socket);
    } finally {
      this.#handing = undefined;
    }
  }

  #onSession(session: ServerHttp2Session): void {
    const { metrics, logger } = this.deps;
    const peer = this.#handing;
    if (peer === undefined) {
      // Only sockets from #onSecure reach the HTTP/2 server.
      session.destroy();
      return;
    }
    const entry: InboundSession = { peer, openedAt: Date.now(), streams: 0 };
    this.#sessions.set(session, entry);
    metrics.tunnelSessions.inc({ peer_zone: peer.zone, direction: 'inbound' });
    logger.info({ peer: peer.spiffeId }, 'tunnel session accepted');
    session.on('error', (err: Error) =>
      logger.debug({ err: err.message }, 'inbound tunnel session error'),
    );
    session.setTimeout(DEAD_SESSION_MS, () => {
      logger.warn({ peer: peer.spiffeId }, 'inbound tunnel session silent: closing it');
      session.destroy();
    });
    session.once('remoteSettings', () => session.setLocalWindowSize(SESSION_WINDOW));
    session.once('close', () => {
      this.#sessions.delete(session);
      metrics.tunnelSessions.dec({ peer_zone: peer.zone, direction: 'inbound' });
    });
  }

  /** After a bundle or revocation change: cut sessions of peers no longer trusted. */
  #recheck(): void {
    for (const [session, entry] of this.#sessions) {
      if (!this.deps.tls.stillTrusted(entry.peer)) {
        this.deps.logger.warn(
          { peer: entry.peer.spiffeId },
          'tunnel peer no longer trusted: closing',
        );
        session.destroy();
      }
    }
  }

  #onStream(stream: ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const { metrics } = this.deps;
    const entry = this.#sessions.get(stream.session as ServerHttp2Session);
    stream.on('error', () => undefined);
    if (entry === undefined) {
      // A stream from a session we refused, racing its destruction.
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    entry.streams++;
    metrics.activeStreams.inc({ direction: 'inbound' });
    stream.once('close', () => {
      entry.streams--;
      metrics.activeStreams.dec({ direction: 'inbound' });
    });
    this.#route(stream, headers, entry.peer).catch((err: unknown) => {
      this.deps.logger.error({ err: String(err) }, 'tunnel stream failed');
      stream.destroy();
    });
  }

  async #route(
    stream: ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    peer: GatewayPeerIdentity,
  ): Promise<void> {
    const { metrics, logger } = this.deps;
    const authority = headers[':authority'];
    const refuse = (reason: RefusalReason, message: string): void => {
      metrics.refuse('public', reason);
      logger.info({ peer: peer.spiffeId, authority, reason }, 'tunnel stream refused');
      respondError(stream, new TunnelError(reason, message));
    };
    if (headers[':method'] !== 'CONNECT') {
      return refuse(
        'method_not_allowed',
        `method ${String(headers[':method'])} not allowed: CONNECT only`,
      );
    }
    const state = this.deps.routing();
    if (state === undefined) return refuse('not_ready', 'the gateway has no config yet');
    const { zone } = state.config;
    const host = authorityHost(authority);
    const name = host === undefined ? undefined : parseMeshName(host, state.config.trustDomain);
    if (name?.kind !== 'destination' || name.zone !== zone) {
      return refuse('unknown_name', `${String(authority)} is not a service of zone ${zone}`);
    }
    const service = `${name.namespace}/${name.service}`;
    const routed = state.table.route(name.namespace, name.service, peer.zone);
    if (routed === 'unknown_service') {
      return refuse('unknown_service', `no service ${service} in zone ${zone}`);
    }
    if (routed === 'not_exported') {
      return refuse('not_exported', `${service} is not exported to zone ${peer.zone}`);
    }
    const dialed = await dialEndpoint(routed.picker, state.config.tunnels.connectTimeoutMs);
    if (!dialed.ok) return refuse(dialed.reason, `${service}: ${dialed.detail}`);
    const upstream = dialed.socket;
    if (stream.destroyed || stream.closed) {
      upstream.destroy();
      return;
    }
    stream.respond({ ':status': 200 });
    metrics.connections.inc({ listener: 'public', mode: 'tunnel' });
    metrics.activeConnections.inc({ listener: 'public', mode: 'tunnel' });
    this.deps.relays.add(stream);
    splice(stream, upstream, undefined, (result) => {
      metrics.activeConnections.dec({ listener: 'public', mode: 'tunnel' });
      metrics.bytes.inc({ listener: 'public', mode: 'tunnel', direction: 'received' }, result.aToB);
      metrics.bytes.inc({ listener: 'public', mode: 'tunnel', direction: 'sent' }, result.bToA);
      logger.debug(
        {
          peer: peer.spiffeId,
          destination: `${name.namespace}/${name.service}`,
          endpoint: dialed.endpoint.instanceId,
          bytesIn: result.aToB,
          bytesOut: result.bToA,
          ...(result.error ? { err: result.error.message } : {}),
        },
        'tunnel stream closed',
      );
    });
  }
}

/** A non-200 answer to CONNECT with the usual JSON error body, then the stream ends. */
function respondError(stream: ServerHttp2Stream, err: TunnelError): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  stream.respond({ ':status': err.status, 'content-type': 'application/json' });
  stream.end(JSON.stringify(toErrorBody(err)));
}

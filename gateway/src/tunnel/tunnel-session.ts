/**
 * One HTTP/2 session over mutual TLS to one peer gateway, carrying CONNECT streams.
 *
 * The TLS connection is made and checked first (ALPN `h2`, the server is gateway `<name>`
 * of the peer zone, chain, scope and revocation), and only then handed to `http2.connect`,
 * so the session never runs on an unverified socket. The session counts as ready once the
 * peer's SETTINGS arrive: under TLS 1.3 a server that refuses our certificate still lets
 * the handshake finish and then closes, so a session that never got SETTINGS failed.
 *
 * Capacity is the lower of our `maxStreamsPerSession` and the peer's
 * `SETTINGS_MAX_CONCURRENT_STREAMS`. Streams asked for while the session connects wait in
 * `waiters`; the pool hands out the ones beyond the peer's limit to other sessions once the
 * limit is known. A session with no streams closes after `idleTimeoutMs`; a draining one
 * (GOAWAY received, its gateway left the config, our identity changed) takes no new
 * streams and closes when its last one ends. A ping every {@link PING_INTERVAL_MS} finds a
 * peer that vanished without closing the connection.
 */
import http2 from 'node:http2';
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import tls from 'node:tls';
import type { Logger, PeerGateway, TunnelSettings } from '../../../core/index.ts';
import type { GatewayPeerIdentity, GatewayTls } from '../identity/gateway-tls.ts';
import type { GatewayMetrics, RetryReason } from '../metrics.ts';
import { gatewayName } from '../sni/mesh-names.ts';
import { TunnelError, reasonOfStatus } from './tunnel-error.ts';

export const PING_INTERVAL_MS = 15_000;
/** Per-stream and per-session flow-control windows: room for a fast stream in flight. */
const STREAM_WINDOW = 1 << 20;
const SESSION_WINDOW = 16 << 20;

/** A stream asked for and not yet given out. */
export interface Waiter {
  authority: string;
  /**
   * Gateways (by {@link gatewayKey}) that did not carry this stream (503, session failure,
   * refused stream): it is not given to them again.
   */
  tried: Set<string>;
  /** What each of them said, in order, for the error if none carries it. */
  failures: string[];
  /** The last of those, as an error (its reason and status are the stream's if it fails). */
  lastError: TunnelError | undefined;
  settled: boolean;
  resolve(stream: ClientHttp2Stream): void;
  reject(err: TunnelError): void;
}

export interface SessionOwner {
  readonly tls: GatewayTls;
  settings(): TunnelSettings;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /** The session became ready: its waiters can be served. */
  sessionReady(session: TunnelSession): void;
  /** The session could not be established; `waiters` go elsewhere. */
  sessionFailed(session: TunnelSession, err: Error, waiters: Waiter[], gatewayFault: boolean): void;
  /** A ready session closed (GOAWAY, error, idle, drained). */
  sessionClosed(session: TunnelSession): void;
  /** A stream ended: there is room again. */
  streamDone(session: TunnelSession): void;
  /**
   * The peer gateway did not carry the stream (answered 503, or refused it before
   * processing it); nothing was sent on it, so it may be tried on another gateway.
   */
  streamNotCarried(
    session: TunnelSession,
    waiter: Waiter,
    reason: RetryReason,
    err: TunnelError,
  ): void;
}

/** A gateway's identity in the pool: its name and address (the config may change either). */
export function gatewayKey(g: PeerGateway): string {
  return `${g.name}@${g.address}:${g.port}`;
}

let nextId = 0;

export class TunnelSession {
  readonly id = ++nextId;
  state: 'connecting' | 'ready' | 'closed' = 'connecting';
  /** Takes no new streams; closes when the last one ends. */
  draining = false;
  /** Streams open on the session. */
  active = 0;
  readonly waiters: Waiter[] = [];
  peer: GatewayPeerIdentity | undefined;
  readonly openedAt = Date.now();
  /** When the last stream ended (or the session became ready). */
  idleSince = Date.now();
  #session: ClientHttp2Session | undefined;
  #socket: tls.TLSSocket | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly zone: string,
    readonly gateway: PeerGateway,
    private readonly owner: SessionOwner,
  ) {}

  /** Streams this session may carry at once. */
  limit(): number {
    const own = this.owner.settings().maxStreamsPerSession;
    const remote = this.#session?.remoteSettings.maxConcurrentStreams;
    return this.state === 'ready' && remote !== undefined ? Math.min(own, remote) : own;
  }

  hasRoom(): boolean {
    return this.state === 'ready' && !this.draining && this.active < this.limit();
  }

  /** Still connecting, with room for another waiter (by our own limit). */
  canQueue(): boolean {
    return this.state === 'connecting' && !this.draining && this.waiters.length < this.limit();
  }

  connect(): void {
    const { owner, gateway } = this;
    const { connectTimeoutMs } = owner.settings();
    const timer = setTimeout(
      () => this.#fail(new Error(`no HTTP/2 SETTINGS within ${connectTimeoutMs} ms`)),
      connectTimeoutMs,
    );
    let socket: tls.TLSSocket;
    try {
      socket = tls.connect({
        host: gateway.address,
        port: gateway.port,
        secureContext: owner.tls.secureContext(),
        servername: gatewayName(this.zone, owner.tls.trustDomain),
        ALPNProtocols: ['h2'],
        // Node checks DNS names only; the SPIFFE check below is the real one.
        checkServerIdentity: () => undefined,
      });
    } catch (err) {
      clearTimeout(timer);
      this.#fail(err as Error);
      return;
    }
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const onEarlyError = (err: Error): void => {
      clearTimeout(timer);
      this.#fail(err);
    };
    socket.once('error', onEarlyError);
    socket.once('secureConnect', () => {
      if (socket.alpnProtocol !== 'h2') {
        clearTimeout(timer);
        this.#fail(
          new Error(`the peer gateway did not agree to h2 (ALPN ${String(socket.alpnProtocol)})`),
        );
        return;
      }
      const peer = owner.tls.checkPeer(socket, { zone: this.zone, name: gateway.name });
      if (peer instanceof Error) {
        clearTimeout(timer);
        owner.metrics.refuse('local', 'peer_identity');
        this.#fail(peer);
        return;
      }
      this.peer = peer;
      socket.off('error', onEarlyError);
      this.#startHttp2(socket, timer);
    });
  }

  #startHttp2(socket: tls.TLSSocket, timer: NodeJS.Timeout): void {
    const session = http2.connect(`https://${gatewayName(this.zone, this.owner.tls.trustDomain)}`, {
      createConnection: () => socket,
      settings: { enablePush: false, initialWindowSize: STREAM_WINDOW },
    });
    this.#session = session;
    session.on('error', (err: Error) => {
      this.owner.logger.debug({ err: err.message, session: this.id }, 'tunnel session error');
    });
    session.once('remoteSettings', () => {
      clearTimeout(timer);
      if (this.state !== 'connecting') return;
      session.setLocalWindowSize(SESSION_WINDOW);
      this.state = 'ready';
      this.idleSince = Date.now();
      this.owner.metrics.tunnelSessions.inc({ peer_zone: this.zone, direction: 'outbound' });
      this.owner.metrics.sessionsOpened.inc({ peer_zone: this.zone, outcome: 'ok' });
      this.#pingTimer = setInterval(() => this.#ping(), PING_INTERVAL_MS).unref();
      this.owner.sessionReady(this);
      this.#maybeIdle();
    });
    session.on('goaway', () => this.drain());
    session.once('close', () => {
      clearTimeout(timer);
      if (this.state === 'connecting') {
        this.#fail(
          new Error(
            'the peer gateway closed the session before its SETTINGS (refused our certificate?)',
          ),
        );
        return;
      }
      this.#closed();
    });
  }

  /**
   * Open a CONNECT stream for `waiter` (the caller checked {@link hasRoom}). The waiter
   * settles with the stream once the peer answers 200.
   */
  request(waiter: Waiter): void {
    const session = this.#session as ClientHttp2Session;
    clearTimeout(this.#idleTimer);
    this.active++;
    this.owner.metrics.activeStreams.inc({ direction: 'outbound' });
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(
        { ':method': 'CONNECT', ':authority': waiter.authority },
        { endStream: false },
      );
    } catch (err) {
      // The session closed under us (between the room check and now).
      this.#streamEnded();
      this.owner.logger.debug({ err: (err as Error).message }, 'tunnel request failed');
      this.owner.streamNotCarried(
        this,
        waiter,
        'refused_stream',
        new TunnelError('tunnel_failure', `${this.gateway.name}: the session closed`),
      );
      return;
    }
    let answered = false;
    stream.once('response', (headers) => {
      answered = true;
      const status = Number(headers[':status']);
      if (status === 200) {
        if (waiter.settled) stream.close(http2.constants.NGHTTP2_CANCEL);
        else waiter.resolve(stream);
        return;
      }
      stream.close(http2.constants.NGHTTP2_CANCEL);
      const err = new TunnelError(
        reasonOfStatus(status),
        `${this.gateway.name} answered ${status}`,
        status,
      );
      // 503: that gateway could not carry it (nothing healthy or reachable behind it), and
      // nothing was sent on the stream, so another gateway of the zone may. Any other answer
      // (403 not exported to us, 404 unknown) is the zone's and final.
      if (status === 503) this.owner.streamNotCarried(this, waiter, 'unavailable', err);
      else waiter.reject(err);
    });
    stream.on('error', () => undefined);
    stream.once('close', () => {
      this.#streamEnded();
      if (answered) return;
      // Refused before the peer processed it (REFUSED_STREAM, or a GOAWAY that did not
      // include it): safe to try on another gateway. Anything else is a failure.
      const refused = stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
      if (refused || this.state === 'closed' || this.draining)
        this.owner.streamNotCarried(
          this,
          waiter,
          'refused_stream',
          new TunnelError(
            'tunnel_failure',
            refused
              ? `${this.gateway.name} refused the stream`
              : `${this.gateway.name}: the session closed before the answer`,
          ),
        );
      else
        waiter.reject(
          new TunnelError('tunnel_failure', `the tunnel stream was reset (code ${stream.rstCode})`),
        );
    });
  }

  #streamEnded(): void {
    this.active--;
    this.owner.metrics.activeStreams.dec({ direction: 'outbound' });
    if (this.active === 0) this.idleSince = Date.now();
    this.owner.streamDone(this);
    this.#maybeIdle();
  }

  /** No new streams; close once the open ones end. */
  drain(): void {
    if (this.draining || this.state === 'closed') return;
    this.draining = true;
    if (this.state === 'connecting') {
      // Nothing is carried yet: give the waiters back and stop.
      this.#fail(new Error('the session was drained while connecting'), false);
      return;
    }
    this.#maybeIdle();
  }

  /** Close at once, streams included. */
  destroy(): void {
    if (this.state === 'connecting') {
      this.#fail(new Error('the session was closed while connecting'), false);
      return;
    }
    this.#session?.destroy();
    this.#socket?.destroy();
  }

  /** After our identity changed: a peer no longer trusted is cut; the rest drain. */
  identityChanged(): void {
    if (this.peer !== undefined && !this.owner.tls.stillTrusted(this.peer)) {
      this.owner.logger.warn(
        { peer: this.peer.spiffeId, session: this.id },
        'tunnel peer no longer trusted: closing its session',
      );
      this.destroy();
      return;
    }
    // New streams go to sessions made with the new leaf and bundle; this one finishes
    // what it carries.
    this.drain();
  }

  #maybeIdle(): void {
    if (this.state !== 'ready' || this.active > 0 || this.waiters.length > 0) return;
    clearTimeout(this.#idleTimer);
    if (this.draining) {
      this.#session?.close();
      return;
    }
    this.#idleTimer = setTimeout(() => {
      if (this.active === 0 && this.waiters.length === 0) {
        this.owner.logger.debug(
          { session: this.id, zone: this.zone },
          'idle tunnel session closed',
        );
        this.draining = true;
        this.#session?.close();
      }
    }, this.owner.settings().idleTimeoutMs);
    this.#idleTimer.unref();
  }

  #ping(): void {
    const session = this.#session;
    if (session === undefined || session.closed || session.destroyed) return;
    const deadline = setTimeout(() => {
      this.owner.logger.warn(
        { session: this.id, zone: this.zone },
        'tunnel peer does not answer pings',
      );
      this.destroy();
    }, this.owner.settings().connectTimeoutMs);
    deadline.unref();
    const sent = session.ping((err) => {
      clearTimeout(deadline);
      if (err) this.destroy();
    });
    if (!sent) clearTimeout(deadline);
  }

  /** @param gatewayFault - false when we gave up on the session ourselves. */
  #fail(err: Error, gatewayFault = true): void {
    if (this.state !== 'connecting') return;
    this.state = 'closed';
    this.#session?.destroy();
    this.#socket?.destroy();
    if (gatewayFault)
      this.owner.metrics.sessionsOpened.inc({ peer_zone: this.zone, outcome: 'error' });
    const waiters = this.waiters.splice(0);
    this.owner.sessionFailed(this, err, waiters, gatewayFault);
  }

  #closed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.#idleTimer);
    clearInterval(this.#pingTimer);
    this.#socket?.destroy();
    this.owner.metrics.tunnelSessions.dec({ peer_zone: this.zone, direction: 'outbound' });
    this.owner.sessionClosed(this);
  }
}

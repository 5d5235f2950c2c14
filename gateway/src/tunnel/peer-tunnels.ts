/**
 * The tunnel sessions to one peer zone: up to `maxSessionsPerPeer` HTTP/2 sessions over
 * the zone's gateways, each carrying up to its stream limit. A stream goes to the first
 * session with room; a session is opened only when every one is full (or connecting with
 * as many waiters as it can take), so a quiet zone keeps one session and idle ones close.
 * When every session is full and no more may open, streams queue until one ends.
 *
 * A gateway whose session could not be established is skipped for a while (2 s, doubling
 * to 30 s while it keeps failing).
 *
 * A stream a gateway did not carry — it answered 503, its session could not be
 * established, or it refused the stream before processing it — is tried on another
 * gateway of the zone, each at most once, skipping gateways in backoff
 * (`causeway_gateway_tunnel_retries_total`). That is safe because a stream is handed out
 * only once answered 200: until then nothing of the proxy's connection was written to it
 * (its peeked ClientHello included), so no byte is lost or sent twice. Any other answer
 * (403 not exported to our zone, 404) is the zone's, and final.
 */
import type { ClientHttp2Stream } from 'node:http2';
import type { Logger, PeerGateway, TunnelSettings } from '../../../core/index.ts';
import type { GatewayTls } from '../identity/gateway-tls.ts';
import type { GatewayMetrics, RetryReason } from '../metrics.ts';
import { TunnelError } from './tunnel-error.ts';
import { TunnelSession, gatewayKey as keyOf } from './tunnel-session.ts';
import type { SessionOwner, Waiter } from './tunnel-session.ts';

/** A stream gets at most this many `connectTimeoutMs` to be answered 200, retries included. */
const OPEN_DEADLINE_CONNECT_TIMEOUTS = 3;
const BACKOFF_BASE_MS = 2_000;
const BACKOFF_MAX_MS = 30_000;

export interface PeerTunnelsContext {
  tls: GatewayTls;
  settings(): TunnelSettings;
  metrics: GatewayMetrics;
  logger: Logger;
}

/** A session as `/tunnels` shows it. */
export interface SessionStatus {
  id: number;
  gateway: string;
  address: string;
  state: 'connecting' | 'ready' | 'closed';
  draining: boolean;
  streams: number;
  maxStreams: number;
  /** Milliseconds since the last stream ended (0 while streams are open). */
  idleMs: number;
  openedAt: string;
  peer: string | undefined;
}

export interface PeerStatus {
  zone: string;
  gateways: { name: string; address: string; port: number; failedUntil?: string }[];
  sessions: SessionStatus[];
  /** Streams waiting for room in a full pool. */
  queued: number;
}

interface Failure {
  count: number;
  until: number;
}

export class PeerTunnels implements SessionOwner {
  readonly tls: GatewayTls;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  readonly #sessions = new Set<TunnelSession>();
  #gateways: readonly PeerGateway[];
  readonly #failures = new Map<string, Failure>();
  readonly #queue: Waiter[] = [];
  #removed = false;

  constructor(
    readonly zone: string,
    gateways: readonly PeerGateway[],
    private readonly context: PeerTunnelsContext,
  ) {
    this.tls = context.tls;
    this.metrics = context.metrics;
    this.logger = context.logger;
    this.#gateways = gateways;
  }

  settings(): TunnelSettings {
    return this.context.settings();
  }

  /**
   * A CONNECT stream to `authority` (`<svc>.<ns>.<zone>.<td>:443`) that a peer gateway
   * answered 200; nothing has been written to it. Rejects with a {@link TunnelError}: a
   * refusal (403, 404), a 503 or failure from every gateway it could try, or no answer
   * within `connectTimeoutMs × OPEN_DEADLINE_CONNECT_TIMEOUTS`.
   */
  open(authority: string): Promise<ClientHttp2Stream> {
    return new Promise((resolve, reject) => {
      const deadlineMs = this.settings().connectTimeoutMs * OPEN_DEADLINE_CONNECT_TIMEOUTS;
      const timer = setTimeout(() => {
        this.#forget(waiter);
        waiter.reject(
          new TunnelError(
            'tunnel_failure',
            `no tunnel stream to zone ${this.zone} within ${deadlineMs} ms` +
              (waiter.failures.length > 0 ? ` (${waiter.failures.join('; ')})` : ''),
          ),
        );
      }, deadlineMs);
      const waiter: Waiter = {
        authority,
        tried: new Set(),
        failures: [],
        lastError: undefined,
        settled: false,
        resolve: (stream) => {
          if (waiter.settled) return;
          waiter.settled = true;
          clearTimeout(timer);
          resolve(stream);
        },
        reject: (err) => {
          if (waiter.settled) return;
          waiter.settled = true;
          clearTimeout(timer);
          reject(err);
        },
      };
      this.#dispatch(waiter);
    });
  }

  #dispatch(waiter: Waiter): void {
    if (waiter.settled) return;
    if (this.#removed) {
      waiter.reject(new TunnelError('unknown_zone', `zone ${this.zone} is no longer a peer`));
      return;
    }
    const usable = this.#usableSessions(waiter);
    for (const s of usable) {
      if (s.hasRoom()) return s.request(waiter);
    }
    for (const s of usable) {
      if (s.canQueue()) {
        s.waiters.push(waiter);
        return;
      }
    }
    const gateway = this.#newSessionGateway(waiter);
    if (gateway !== undefined) {
      const session = new TunnelSession(this.zone, gateway, this);
      this.#sessions.add(session);
      session.waiters.push(waiter);
      session.connect();
      return;
    }
    // A stream some gateway did not carry waits only for a gateway it has not tried; with
    // none left that could take it, that gateway's answer stands.
    if (waiter.tried.size > 0 && !usable.some((s) => !s.draining)) {
      waiter.reject(this.#finalError(waiter));
      return;
    }
    this.#queue.push(waiter);
  }

  /** Sessions `waiter` may go to: those to gateways that have not failed it. */
  #usableSessions(waiter: Waiter): TunnelSession[] {
    return [...this.#sessions].filter((s) => !waiter.tried.has(keyOf(s.gateway)));
  }

  /** The gateway of a new session for `waiter`, if the pool may open one for it. */
  #newSessionGateway(waiter: Waiter): PeerGateway | undefined {
    // Draining sessions finish their streams but do not count against the limit: after an
    // identity change every session drains, and new streams need new sessions at once.
    const live = [...this.#sessions].filter((s) => !s.draining).length;
    return live < this.settings().maxSessionsPerPeer ? this.#pickGateway(waiter) : undefined;
  }

  /** Whether {@link #dispatch} would place `waiter` (not reject it) right now. */
  #canPlace(waiter: Waiter): boolean {
    return (
      this.#usableSessions(waiter).some((s) => !s.draining) ||
      this.#newSessionGateway(waiter) !== undefined
    );
  }

  /** Serve queued streams while there is room. */
  #drainQueue(): void {
    // Every waiter is looked at (not only the first), as a retried one may fit where the
    // first does not; once one with no constraint found no room, others like it are put
    // straight back, in order.
    let full = false;
    for (const waiter of this.#queue.splice(0)) {
      if (waiter.settled) continue;
      if (full && waiter.tried.size === 0) {
        this.#queue.push(waiter);
        continue;
      }
      const before = this.#queue.length;
      this.#dispatch(waiter);
      if (waiter.tried.size === 0 && this.#queue.length > before) full = true;
    }
  }

  /**
   * The gateway for a new session: one not failing, with the fewest sessions (spreading
   * sessions over the zone's gateways); when all are failing, the one that may recover
   * first. For a stream some gateway did not carry: only gateways it has not tried, and
   * none in backoff.
   */
  #pickGateway(waiter: Waiter): PeerGateway | undefined {
    const now = Date.now();
    const retry = waiter.tried.size > 0;
    const ranked = this.#gateways.flatMap((g, index) => {
      const key = keyOf(g);
      const failure = this.#failures.get(key);
      const failing = failure !== undefined && failure.until > now;
      if (waiter.tried.has(key) || (retry && failing)) return [];
      const sessions = [...this.#sessions].filter((s) => keyOf(s.gateway) === key).length;
      return [{ g, index, failing, until: failure?.until ?? 0, sessions }];
    });
    ranked.sort(
      (a, b) =>
        Number(a.failing) - Number(b.failing) ||
        (a.failing ? a.until - b.until : a.sessions - b.sessions) ||
        a.index - b.index,
    );
    return ranked[0]?.g;
  }

  #forget(waiter: Waiter): void {
    const at = this.#queue.indexOf(waiter);
    if (at >= 0) this.#queue.splice(at, 1);
    for (const s of this.#sessions) {
      const i = s.waiters.indexOf(waiter);
      if (i >= 0) s.waiters.splice(i, 1);
    }
  }

  /**
   * `gateway` did not carry `waiter`'s stream: try another gateway of the zone, or fail
   * the stream with what the gateways said when none is left.
   */
  #notCarried(waiter: Waiter, gateway: PeerGateway, reason: RetryReason, err: TunnelError): void {
    if (waiter.settled) return;
    waiter.tried.add(keyOf(gateway));
    waiter.failures.push(err.message);
    waiter.lastError = err;
    if (this.#removed || !this.#canPlace(waiter)) {
      waiter.reject(this.#finalError(waiter));
      return;
    }
    this.metrics.tunnelRetries.inc({ peer_zone: this.zone, reason });
    this.logger.info(
      {
        zone: this.zone,
        authority: waiter.authority,
        gateway: gateway.name,
        reason,
        err: err.message,
        tried: waiter.tried.size,
      },
      'tunnel stream not carried: trying another gateway of the zone',
    );
    this.#dispatch(waiter);
  }

  /** The error of a stream no gateway carried: the last one's reason and status, every why. */
  #finalError(waiter: Waiter): TunnelError {
    const last = waiter.lastError ?? new TunnelError('tunnel_failure', 'no gateway answered');
    return new TunnelError(
      last.reason,
      `no gateway of zone ${this.zone} carried the stream: ${waiter.failures.join('; ')}`,
      last.status,
    );
  }

  sessionReady(session: TunnelSession): void {
    this.#failures.delete(keyOf(session.gateway));
    this.logger.info(
      {
        zone: this.zone,
        gateway: session.gateway.name,
        peer: session.peer?.spiffeId,
        session: session.id,
      },
      'tunnel session ready',
    );
    // Waiters beyond the peer's stream limit go to other sessions (or open new ones).
    for (const waiter of session.waiters.splice(0)) this.#dispatch(waiter);
    this.#drainQueue();
  }

  sessionFailed(
    session: TunnelSession,
    err: Error,
    waiters: Waiter[],
    gatewayFault: boolean,
  ): void {
    this.#sessions.delete(session);
    if (gatewayFault) {
      const key = keyOf(session.gateway);
      const count = (this.#failures.get(key)?.count ?? 0) + 1;
      const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (count - 1));
      this.#failures.set(key, { count, until: Date.now() + backoff });
      this.logger.warn(
        { zone: this.zone, gateway: session.gateway.name, err: err.message, skipMs: backoff },
        'tunnel session to peer gateway failed',
      );
    }
    for (const waiter of waiters) {
      // Given back by us (drained while connecting): not that gateway's fault, not a retry.
      if (!gatewayFault) this.#dispatch(waiter);
      else
        this.#notCarried(
          waiter,
          session.gateway,
          'session_failure',
          new TunnelError('tunnel_failure', `${session.gateway.name}: ${err.message}`),
        );
    }
    this.#drainQueue();
  }

  sessionClosed(session: TunnelSession): void {
    this.#sessions.delete(session);
    this.logger.debug({ zone: this.zone, session: session.id }, 'tunnel session closed');
    this.#drainQueue();
  }

  streamDone(_session: TunnelSession): void {
    this.#drainQueue();
  }

  streamNotCarried(
    session: TunnelSession,
    waiter: Waiter,
    reason: RetryReason,
    err: TunnelError,
  ): void {
    this.#notCarried(waiter, session.gateway, reason, err);
  }

  /** New gateways for the zone; sessions to gateways no longer listed drain. */
  update(gateways: readonly PeerGateway[]): void {
    this.#gateways = gateways;
    const keys = new Set(gateways.map(keyOf));
    for (const s of this.#sessions) if (!keys.has(keyOf(s.gateway))) s.drain();
    for (const key of [...this.#failures.keys()]) if (!keys.has(key)) this.#failures.delete(key);
    this.#drainQueue();
  }

  /** The zone is no longer a peer: no new streams; open ones finish. */
  remove(): void {
    this.#removed = true;
    for (const s of this.#sessions) s.drain();
    for (const waiter of this.#queue.splice(0)) this.#dispatch(waiter);
  }

  identityChanged(): void {
    for (const s of [...this.#sessions]) s.identityChanged();
    this.#drainQueue();
  }

  /** Close every session now (shutdown after the drain period). */
  destroy(): void {
    this.remove();
    for (const s of [...this.#sessions]) s.destroy();
  }

  /** Sessions not yet closed (connecting, ready or draining). */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  status(): PeerStatus {
    const now = Date.now();
    return {
      zone: this.zone,
      gateways: this.#gateways.map((g) => {
        const until = this.#failures.get(keyOf(g))?.until;
        return {
          name: g.name,
          address: g.address,
          port: g.port,
          ...(until !== undefined && until > now
            ? { failedUntil: new Date(until).toISOString() }
            : {}),
        };
      }),
      sessions: [...this.#sessions].map((s) => ({
        id: s.id,
        gateway: s.gateway.name,
        address: `${s.gateway.address}:${s.gateway.port}`,
        state: s.state,
        draining: s.draining,
        streams: s.active,
        maxStreams: s.limit(),
        idleMs: s.active > 0 ? 0 : now - s.idleSince,
        openedAt: new Date(s.openedAt).toISOString(),
        peer: s.peer?.spiffeId,
      })),
      queued: this.#queue.filter((w) => !w.settled).length,
    };
  }
}

/**
 * The tunnel sessions to one peer zone: up to `maxSessionsPerPeer` HTTP/2 sessions over
 * the zone's gateways, each carrying up to its stream limit. A stream goes to the first
 * session with room; a session is opened only when every one is full (or connecting with
 * as many waiters as it can take), so a quiet zone keeps one session and idle ones close.
 * When every session is full and no more may open, streams queue until one ends.
 *
 * A gateway whose session could not be established is skipped for a while (2 s, doubling
 * to 30 s while it keeps failing) and the streams that waited on it are retried on the
 * next gateway, up to {@link MAX_ATTEMPTS} sessions per stream.
 */
import type { ClientHttp2Stream } from 'node:http2';
import type { Logger, PeerGateway, TunnelSettings } from '../../../core/index.ts';
import type { GatewayTls } from '../identity/gateway-tls.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { TunnelError } from './tunnel-error.ts';
import { TunnelSession } from './tunnel-session.ts';
import type { SessionOwner, Waiter } from './tunnel-session.ts';

/** Sessions one stream may fail on (connect failures, refused streams) before it gives up. */
export const MAX_ATTEMPTS = 3;
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
   * A CONNECT stream to `authority` (`<svc>.<ns>.<zone>.<td>:443`) that the peer answered
   * 200. Rejects with a {@link TunnelError}: the peer's refusal (403, 404, 503), or a
   * failure to get there within `connectTimeoutMs × MAX_ATTEMPTS`.
   */
  open(authority: string): Promise<ClientHttp2Stream> {
    return new Promise((resolve, reject) => {
      const deadlineMs = this.settings().connectTimeoutMs * MAX_ATTEMPTS;
      const timer = setTimeout(() => {
        this.#forget(waiter);
        waiter.reject(
          new TunnelError(
            'tunnel_failure',
            `no tunnel stream to zone ${this.zone} within ${deadlineMs} ms`,
          ),
        );
      }, deadlineMs);
      const waiter: Waiter = {
        authority,
        attempts: 0,
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
    for (const s of this.#sessions) {
      if (s.hasRoom()) return s.request(waiter);
    }
    for (const s of this.#sessions) {
      if (s.canQueue()) {
        s.waiters.push(waiter);
        return;
      }
    }
    // Draining sessions finish their streams but do not count against the limit: after an
    // identity change every session drains, and new streams need new sessions at once.
    const live = [...this.#sessions].filter((s) => !s.draining).length;
    if (live < this.settings().maxSessionsPerPeer && this.#gateways.length > 0) {
      const session = new TunnelSession(this.zone, this.#pickGateway(), this);
      this.#sessions.add(session);
      session.waiters.push(waiter);
      session.connect();
      return;
    }
    this.#queue.push(waiter);
  }

  /** Serve queued streams while there is room. */
  #drainQueue(): void {
    while (this.#queue.length > 0) {
      const waiter = this.#queue[0] as Waiter;
      if (waiter.settled) {
        this.#queue.shift();
        continue;
      }
      const before = this.#queue.length;
      this.#queue.shift();
      this.#dispatch(waiter);
      // Dispatch queued it again: no room anywhere yet.
      if (this.#queue.length === before) break;
    }
  }

  /**
   * The gateway for a new session: one not failing, with the fewest sessions (spreading
   * sessions over the zone's gateways); when all are failing, the one that may recover first.
   */
  #pickGateway(): PeerGateway {
    const now = Date.now();
    const ranked = this.#gateways.map((g, index) => {
      const failure = this.#failures.get(keyOf(g));
      const failing = failure !== undefined && failure.until > now;
      const sessions = [...this.#sessions].filter((s) => keyOf(s.gateway) === keyOf(g)).length;
      return { g, index, failing, until: failure?.until ?? 0, sessions };
    });
    ranked.sort(
      (a, b) =>
        Number(a.failing) - Number(b.failing) ||
        (a.failing ? a.until - b.until : a.sessions - b.sessions) ||
        a.index - b.index,
    );
    return (ranked[0] as (typeof ranked)[number]).g;
  }

  #forget(waiter: Waiter): void {
    const at = this.#queue.indexOf(waiter);
    if (at >= 0) this.#queue.splice(at, 1);
    for (const s of this.#sessions) {
      const i = s.waiters.indexOf(waiter);
      if (i >= 0) s.waiters.splice(i, 1);
    }
  }

  #retry(waiter: Waiter, why: string): void {
    waiter.attempts++;
    if (waiter.attempts >= MAX_ATTEMPTS) {
      waiter.reject(new TunnelError('tunnel_failure', `no tunnel to zone ${this.zone}: ${why}`));
      return;
    }
    this.#dispatch(waiter);
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
    for (const waiter of waiters) this.#retry(waiter, err.message);
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

  streamRefused(_session: TunnelSession, waiter: Waiter): void {
    this.#retry(waiter, 'the stream was refused');
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

function keyOf(g: PeerGateway): string {
  return `${g.name}@${g.address}:${g.port}`;
}

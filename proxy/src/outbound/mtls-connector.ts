/**
 * Originating mutual TLS to an endpoint: the mesh context of the moment, SNI naming the
 * destination (`<service>.<namespace>.<zone>.<trustDomain>`), TLS session resumption per
 * endpoint, a connect timeout, and the peer's SPIFFE ID checked before the socket is
 * handed out.
 *
 * Node's `checkServerIdentity` looks at DNS names only and is skipped for resumed
 * sessions, so it accepts and the real check runs on `secureConnect` through
 * `MeshTls.checkPeer`. A resumed session carries no peer certificate on the client side;
 * its identity is the one verified on the full handshake that issued the ticket, and every
 * stored ticket is dropped when the mesh context changes (new leaf, bundle or revocation
 * list), so a resumed connection never outlives the checks it was vouched for under.
 */
import tls from 'node:tls';
import type { MeshTls, PeerIdentity } from '../mesh-tls.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { EndpointState } from './endpoint.ts';
import { UpstreamError } from './upstream-error.ts';

export type ConnectCallback = (err: Error | null, socket?: tls.TLSSocket) => void;

export interface ConnectTarget {
  service: string;
  namespace: string;
  connectTimeoutMs: number;
}

const acceptAnyName = (): undefined => undefined;
const kVerified = Symbol('verified');
const kPendingSession = Symbol('pendingSession');
const kTarget = Symbol('target');
const kStale = Symbol('stale');
const kAccepted = Symbol('accepted');

type MeshSocket = tls.TLSSocket & {
  [kVerified]?: PeerIdentity;
  [kPendingSession]?: Buffer;
  [kTarget]?: ConnectTarget;
  [kStale]?: boolean;
  [kAccepted]?: boolean;
};

/**
 * Whether the server is known to have accepted our certificate: it sent a session ticket,
 * which a TLS 1.3 server does only after verifying the client's certificate and Finished.
 * TLS 1.3 reports a refusal of our certificate only after `secureConnect`, as an alert
 * that reaches the request as a reset or hang-up; without a ticket, a failure on a fresh
 * connection may be that refusal.
 */
export function peerAccepted(socket: tls.TLSSocket): boolean {
  return (socket as MeshSocket)[kAccepted] === true;
}

/**
 * Whether a connection may serve another request: false once a mesh context change left
 * its peer unverifiable (a resumed session, whose certificate the client side does not
 * have). Pools close such connections instead of reusing them.
 */
export function isReusable(socket: tls.TLSSocket): boolean {
  return (socket as MeshSocket)[kStale] !== true;
}

export class MtlsConnector {
  #generation = 0;
  readonly #unsubscribe: () => void;
  /** Every connection handed out and still open (pooled or spliced), for re-checks. */
  readonly #open = new Set<MeshSocket>();

  constructor(
    private readonly mesh: MeshTls,
    private readonly metrics: ProxyMetrics,
  ) {
    this.#unsubscribe = mesh.onChange(() => {
      this.#generation++;
      this.#recheck();
    });
  }

  close(): void {
    this.#unsubscribe();
  }

  /** Connections open right now (handed out, not yet closed). */
  get openConnections(): number {
    return this.#open.size;
  }

  /**
   * After a new leaf, bundle or revocation list: a connection opened with our previous leaf
   * is not reused; a connection whose peer no longer passes
   * (revoked, or its chain no longer leads to the bundle) closes at once, busy or idle;
   * waiting for it to close on its own would keep talking to a revoked destination for as
   * long as the pool keeps it warm. A resumed connection cannot be checked again (the
   * client side has no peer certificate), so it finishes its request and is not reused.
   */
  #recheck(): void {
    const ours = this.mesh.leafFingerprint();
    for (const socket of this.#open) {
      if (socket.destroyed) continue;
      const target = socket[kTarget] as ConnectTarget;
      // Opened with a leaf we no longer hold (a renewal, a root rotation's switch): finish
      // what is in flight, then close it instead of reusing it. Its peer will refuse that
      // leaf once its root leaves the bundle, and would reset the requests on it then.
      const mine = socket.getCertificate() as { fingerprint256?: string } | null;
      if (
        ours !== undefined &&
        mine?.fingerprint256 !== undefined &&
        mine.fingerprint256 !== ours
      ) {
        socket[kStale] = true;
      }
      if (socket.isSessionReused()) {
        socket[kStale] = true;
        continue;
      }
      if (this.mesh.checkPeer(socket, target) instanceof Error) socket.destroy();
    }
  }

  /** @internal a verified connection is handed out. */
  opened(socket: MeshSocket, target: ConnectTarget): void {
    socket[kTarget] = target;
    this.#open.add(socket);
  }

  /**
   * A connection from {@link connect} closed. The caller reports it from the 'close'
   * listener it has anyway: one more listener per socket would trip Node's
   * MaxListeners warning on spliced TCP connections, whose pipeline adds many.
   */
  closed(socket: tls.TLSSocket): void {
    this.#open.delete(socket);
  }

  /** Bumped on every mesh context change; sessions from older generations are not resumed. */
  get generation(): number {
    return this.#generation;
  }

  connect(endpoint: EndpointState, target: ConnectTarget, callback: ConnectCallback): void {
    const resumable =
      endpoint.sessionGeneration === this.#generation ? endpoint.session : undefined;
    let socket: MeshSocket;
    try {
      socket = tls.connect({
        host: endpoint.address,
        port: endpoint.port,
        secureContext: this.mesh.secureContext(),
        servername: endpoint.sni,
        session: resumable,
        checkServerIdentity: acceptAnyName,
      });
    } catch (err) {
      callback(
        new UpstreamError('connect-failure', (err as Error).message, undefined, { cause: err }),
      );
      return;
    }
    new ConnectAttempt(this, socket, endpoint, target, this.#generation, callback).start();
  }

  /** @internal */
  handshake(outcome: 'ok' | 'refused' | 'error', resumed: boolean): void {
    this.metrics.tlsHandshakes.inc({
      direction: 'outbound',
      outcome,
      resumed: resumed ? 'true' : 'false',
    });
  }

  /** @internal */
  check(
    socket: tls.TLSSocket,
    endpoint: EndpointState,
    target: ConnectTarget,
    generation: number,
  ): PeerIdentity | Error {
    const verdict = this.mesh.checkPeer(socket, target);
    if (!(verdict instanceof Error) || !socket.isSessionReused()) return verdict;
    const vouched = endpoint.sessionPeer;
    if (
      vouched !== undefined &&
      endpoint.sessionGeneration === generation &&
      generation === this.#generation &&
      vouched.service === target.service &&
      vouched.namespace === target.namespace
    ) {
      return vouched;
    }
    return verdict;
  }

  /** @internal */
  remember(endpoint: EndpointState, session: Buffer, peer: PeerIdentity, generation: number): void {
    if (generation !== this.#generation) return;
    endpoint.session = session;
    endpoint.sessionPeer = peer;
    endpoint.sessionGeneration = generation;
  }
}

/** Drop an endpoint's stored TLS session (after a failure that may be the session's fault). */
export function forgetSession(endpoint: EndpointState): void {
  endpoint.session = undefined;
  endpoint.sessionPeer = undefined;
}

/** One connection attempt: its timer and handlers (per connection, not per request). */
class ConnectAttempt {
  #timer: NodeJS.Timeout | undefined;
  #done = false;

  constructor(
    private readonly connector: MtlsConnector,
    private readonly socket: MeshSocket,
    private readonly endpoint: EndpointState,
    private readonly target: ConnectTarget,
    private readonly generation: number,
    private readonly callback: ConnectCallback,
  ) {}

  start(): void {
    const { socket } = this;
    socket.setNoDelay(true);
    socket.on('session', this.#onSession);
    socket.once('secureConnect', this.#onSecureConnect);
    socket.once('error', this.#onError);
    socket.once('close', this.#onClose);
    this.#timer = setTimeout(this.#onTimeout, this.target.connectTimeoutMs);
  }

  #finish(err: Error | null): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    const { socket } = this;
    socket.off('error', this.#onError);
    socket.off('close', this.#onClose);
    if (err) {
      // A failed session is not offered again: the next attempt does a full handshake.
      forgetSession(this.endpoint);
      socket.destroy();
      this.callback(err);
    } else {
      this.callback(null, socket);
    }
  }

  readonly #onSecureConnect = (): void => {
    const { socket, endpoint, target } = this;
    const resumed = socket.isSessionReused();
    const verdict = this.connector.check(socket, endpoint, target, this.generation);
    if (verdict instanceof Error && resumed && this.generation !== this.connector.generation) {
      // The mesh context changed during the handshake, so the resumed session is no
      // longer vouched for: start over with a full handshake under the new context.
      this.#done = true;
      clearTimeout(this.#timer);
      socket.off('error', this.#onError);
      socket.off('close', this.#onClose);
      socket.destroy();
      this.connector.connect(endpoint, target, this.callback);
      return;
    }
    if (verdict instanceof Error) {
      this.connector.handshake('refused', resumed);
      this.#finish(
        new UpstreamError('connect-failure', `${endpoint.key}: ${verdict.message}`, undefined, {
          cause: verdict,
        }),
      );
      return;
    }
    this.connector.handshake('ok', resumed);
    socket[kVerified] = verdict;
    this.connector.opened(socket, target);
    const pending = socket[kPendingSession];
    if (pending !== undefined) {
      socket[kPendingSession] = undefined;
      this.connector.remember(endpoint, pending, verdict, this.generation);
    }
    this.#finish(null);
  };

  readonly #onSession = (session: Buffer): void => {
    this.socket[kAccepted] = true;
    const peer = this.socket[kVerified];
    if (peer === undefined) this.socket[kPendingSession] = session;
    else this.connector.remember(this.endpoint, session, peer, this.generation);
  };

  readonly #onError = (err: Error): void => {
    this.connector.handshake('error', false);
    this.#finish(
      new UpstreamError('connect-failure', `${this.endpoint.key}: ${err.message}`, undefined, {
        cause: err,
      }),
    );
  };

  readonly #onClose = (): void => {
    this.#finish(
      new UpstreamError('connect-failure', `${this.endpoint.key}: closed during the handshake`),
    );
  };

  readonly #onTimeout = (): void => {
    this.connector.handshake('error', false);
    this.#finish(
      new UpstreamError(
        'connect-failure',
        `${this.endpoint.key}: connect timeout after ${this.target.connectTimeoutMs} ms`,
      ),
    );
  };
}

/**
 * One proxy's stream: it authenticated at the upgrade; its first frame must be a `hello`
 * whose service (and namespace) its token may write. The zone checks the hello whole —
 * entitlement, and a CSR that parses and names that identity (the leaf is signed then) —
 * before it touches the catalog or the instance's current stream, so a bad hello cannot
 * kick a healthy stream or mark it critical. It then registers the instance (see
 * `proxy-registrar.ts`), answers with the leaf, the trust bundle and the first config
 * snapshot (in that order: no config before the identity it needs), re-pushes the bundle
 * whenever it changes and the snapshot whenever this proxy's view changes, signs renewals,
 * and records every ACK and NACK. A bundle ACK is this instance's acknowledgement to the
 * CA, which a root rotation waits for.
 *
 * The token is checked again before every renewal is signed and on every stream-check
 * heartbeat: a deleted or expired token loses its stream (a 403 `error` frame, then close)
 * instead of keeping it, and its leaves, for as long as the connection lasts.
 */
import type { WebSocket } from 'ws';
import {
  decodeProxyMessage,
  errorFrame,
  frameText,
} from '../../../core/src/proxy-stream/messages.ts';
import type {
  HealthMessage,
  HelloMessage,
  ProxyMessage,
  PushKind,
  ZoneMessage,
} from '../../../core/src/proxy-stream/messages.ts';
import {
  InvalidArgumentError,
  PermissionDeniedError,
  formatSpiffeId,
  isNotFound,
  trustBundlePems,
} from '../../../core/index.ts';
import type { Logger } from '../../../core/index.ts';
import type { Authorizer } from '../acl/authorizer.ts';
import { requireEntitlement } from '../ca/entitlement.ts';
import type { IssuedLeaf, ZoneCa } from '../ca/zone-ca.ts';
import { sessionKey } from './proxy-registrar.ts';
import type { ProxyRegistrar } from './proxy-registrar.ts';
import { configFrame } from './config-frame.ts';
import { pushNonce } from './push-nonce.ts';
import { keyedShape } from './snapshot-cache.ts';
import type { KeyedShape, SnapshotCache } from './snapshot-cache.ts';
import type { SnapshotInputSource } from './snapshot-inputs.ts';

/** What the zone API shows about a connected (or recently gone) proxy. */
export interface ProxyStatus {
  instanceId: string;
  service: string;
  namespace: string;
  /** The catalog node the instance is registered on. */
  node: string;
  spiffeId: string;
  connected: boolean;
  connectedAt: string;
  disconnectedAt?: string;
  acked: Partial<Record<PushKind, number>>;
  lastNack?: { kind: PushKind; version: number; reason: string; at: string };
  /** The newest config version pushed to this proxy (0: none yet). */
  configVersion: number;
  /** The newest config version it ACKed (0: none). */
  configAckedVersion: number;
  /**
   * Why the newest snapshot built for this proxy was not pushed (it failed the proxy's own
   * snapshot checks); absent once a snapshot goes out again.
   */
  configError?: string;
}

/** What a session needs from its server. */
export interface SessionHost {
  readonly ca: ZoneCa;
  readonly registrar: ProxyRegistrar;
  readonly inputs: SnapshotInputSource;
  /** Snapshots built once per proxy shape (see `snapshot-cache.ts`). */
  readonly snapshots: SnapshotCache;
  readonly logger: Logger;
  /** True once the zone is shutting down: dropped streams are then not the proxy's fault. */
  readonly stopping: boolean;
  /** Show `status`; the host may keep the object, so update it and publish again. */
  publish(status: ProxyStatus): void;
  /** Make `session` the current stream of `key` (see `sessionKey`), closing an older one. */
  claim(session: ProxySession, key: string): void;
  isCurrent(session: ProxySession, key: string): boolean;
  /** Whether any stream is the current one of `key`. */
  claimed(key: string): boolean;
  release(session: ProxySession, key: string): void;
}

/** A client that says nothing for this long after connecting is dropped. */
export const HELLO_TIMEOUT_MS = 10_000;
/**
 * `health` frames that only change the output are written at most this often: a proxy
 * that reports every second must not cost a catalog write (and a snapshot rebuild for
 * every caller) every second. A status change is written at once.
 */
export const HEALTH_WRITE_INTERVAL_MS = 5_000;

export class ProxySession {
  status: ProxyStatus | undefined;
  #hello: HelloMessage | undefined;
  #key = '';
  #spiffeId = '';
  #leafVersion = 0;
  /** nonce → push, for matching ACKs; only the newest per kind counts. */
  readonly #pending = new Map<PushKind, { version: number; nonce: string }>();
  #unsubscribe: (() => void) | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #left = false;
  #inbox: Promise<void> = Promise.resolve();
  #closed = false;
  /** Config goes out only after the leaf and the bundle did. */
  #identitySent = false;
  #configVersion = 0;
  /** The fields of its hello that its snapshot depends on, keyed (`snapshot-cache.ts`). */
  #shape: KeyedShape | undefined;
  #lastSnapshot = '';
  /** Config pushes in order, one at a time. */
  #configChain: Promise<void> = Promise.resolve();
  /** The last app health written to the catalog, and a trailing write of a newer output. */
  #health: { status: HealthMessage['status']; at: number } | undefined;
  #healthLatest: HealthMessage | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  private readonly ca: ZoneCa;
  private readonly logger: Logger;

  /**
   * @param reauthorize - resolves the stream's token again (it may have been deleted or
   *   have expired since the upgrade); rejects when it is no longer valid.
   */
  constructor(
    private readonly socket: WebSocket,
    private authz: Authorizer,
    private readonly host: SessionHost,
    private readonly reauthorize: () => Promise<Authorizer> = () => Promise.resolve(authz),
  ) {
    this.ca = host.ca;
    this.logger = host.logger;
    const timer = setTimeout(() => {
      if (!this.#hello)
        this.#refuse(new InvalidArgumentError(`no hello within ${HELLO_TIMEOUT_MS} ms`, 'type'));
    }, HELLO_TIMEOUT_MS);
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        this.#refuse(new InvalidArgumentError('frames must be text (JSON)', 'frame'));
        return;
      }
      // One frame at a time, in order: a `health` sent right behind the `hello` must not
      // be read before the hello has registered the instance.
      const text = frameText(data);
      this.#inbox = this.#inbox.then(() => this.#handle(text));
    });
    // A protocol error (an oversized or malformed frame) closes the socket; without a
    // listener ws would throw it on the process.
    socket.on('error', (err) => this.logger.debug({ err: String(err) }, 'proxy stream error'));
    socket.on('close', () => {
      clearTimeout(timer);
      // Frames that arrived before the close are handled first: a proxy that stops sends
      // `leave` and closes at once, and that leave must still deregister it.
      this.#inbox = this.#inbox.then(() => this.#onClose());
    });
  }

  #onClose(): void {
    clearTimeout(this.#healthTimer);
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#unsubscribe?.();
    const hello = this.#hello;
    if (this.status && hello) {
      const current = this.host.isCurrent(this, this.#key);
      if (current) {
        this.status = {
          ...this.status,
          connected: false,
          disconnectedAt: new Date().toISOString(),
        };
        this.host.publish(this.status);
        this.host.release(this, this.#key);
      }
      // A newer stream of the same instance, a `leave`, or the zone stopping: the proxy
      // did not go away, so its check stays as it is.
      if (current && !this.#left) this.#markDisconnected(hello);
    }
  }

  /** Close this stream because a newer one of the same instance took over. */
  replace(): void {
    this.socket.close(4000, 'replaced by a newer stream of this instance');
  }

  #markDisconnected(hello: HelloMessage): void {
    if (this.host.stopping) return;
    this.host.registrar
      .disconnected(hello)
      .catch((err: unknown) =>
        this.logger.warn(
          { err: String(err), instance: hello.instanceId },
          'marking a proxy disconnected failed',
        ),
      );
  }

  async #handle(frame: string): Promise<void> {
    if (this.#closed) return;
    let message: ProxyMessage;
    try {
      message = decodeProxyMessage(frame);
      if (!this.#hello && message.type !== 'hello') {
        throw new InvalidArgumentError(
          `the first message must be hello, not ${message.type}`,
          'type',
        );
      }
      if (this.#hello && message.type === 'hello') {
        throw new InvalidArgumentError('hello was already received on this stream', 'type');
      }
      switch (message.type) {
        case 'hello':
          await this.#onHello(message);
          break;
        case 'csr':
          // A renewal is signed only for a token that is still valid and still entitled.
          await this.#recheckToken();
          this.#pushLeaf(await this.ca.sign(message.csr, this.#spiffeId));
          break;
        case 'ack':
        case 'nack':
          await this.#onAck(message);
          break;
        case 'health':
          // After `leave` the instance is gone; a late report must not bring it back.
          if (!this.#left) await this.#onHealth(message);
          break;
        case 'leave':
          this.#left = true;
          clearInterval(this.#heartbeat);
          clearTimeout(this.#healthTimer);
          // A stream that was replaced is no longer the instance's: its leave must not
          // remove what the newer stream registered.
          if (this.host.isCurrent(this, this.#key)) {
            await this.host.registrar.leave(this.#hello as HelloMessage);
          }
          break;
      }
    } catch (err) {
      this.#refuse(err);
    }
  }

  async #onHello(hello: HelloMessage): Promise<void> {
    const { trustDomain, zone } = this.ca.state;
    const spiffeId = formatSpiffeId({
      kind: 'workload',
      trustDomain,
      zone,
      namespace: hello.namespace,
      service: hello.service,
    });
    requireEntitlement(this.authz, spiffeId, { trustDomain, zone });
    // Signing checks the CSR (it parses, its key is strong enough, it names exactly this
    // identity). Done before the registration and the claim: a hello refused here leaves
    // the instance, its check and its current stream as they were.
    const leaf = await this.ca.sign(hello.csr, spiffeId);
    if (this.#closed) return;
    const key = sessionKey(hello);
    // Registered before anything is pushed: an instance another registrar (or another
    // service) owns is refused (409) without this stream ever becoming that instance's.
    await this.host.registrar.register(hello);
    if (this.#closed) {
      // Gone while registering: the registration it just renewed must not stay passing,
      // unless a newer stream of the instance holds it.
      if (!this.host.claimed(key)) this.#markDisconnected(hello);
      return;
    }
    this.host.claim(this, key);
    this.#hello = hello;
    this.#shape = keyedShape(hello);
    this.#key = key;
    this.#spiffeId = spiffeId;
    this.status = {
      instanceId: hello.instanceId,
      service: hello.service,
      namespace: hello.namespace,
      node: hello.node,
      spiffeId,
      connected: true,
      connectedAt: new Date().toISOString(),
      acked: {},
      configVersion: 0,
      configAckedVersion: 0,
    };
    this.host.publish(this.status);
    const renewEvery = Math.max(50, Math.floor(this.host.registrar.options.checkTtlMs / 3));
    this.#heartbeat = setInterval(() => void this.#renew(hello), renewEvery);
    this.#pushLeaf(leaf);
    await this.#pushBundle();
    // The close handler unsubscribes what is subscribed when it runs: subscribe only on a
    // stream that is still open, in the same tick as the check.
    if (this.#closed) return;
    const push = (): void => void this.#pushBundle().catch((err: unknown) => this.#refuse(err));
    const offBundle = this.ca.onBundleChange(push);
    const offRevocations = this.ca.onRevocationChange(push);
    this.#unsubscribe = () => {
      offBundle();
      offRevocations();
    };
    this.#identitySent = true;
    await this.refreshConfig();
  }

  /**
   * The token again, as it is now: refused (403) when it was deleted or expired, or no
   * longer grants this identity.
   */
  async #recheckToken(): Promise<void> {
    let authz: Authorizer;
    try {
      authz = await this.reauthorize();
    } catch {
      throw new PermissionDeniedError(
        'the stream token is no longer valid (deleted or expired); reconnect with a valid token',
      );
    }
    const { trustDomain, zone } = this.ca.state;
    requireEntitlement(authz, this.#spiffeId, { trustDomain, zone });
    this.authz = authz;
  }

  /** Keep the stream check passing; re-register if the registration was removed meanwhile. */
  async #renew(hello: HelloMessage): Promise<void> {
    if (this.#left || this.#closed) return;
    try {
      await this.#recheckToken();
    } catch (err) {
      if (!this.#closed) this.#refuse(err);
      return;
    }
    if (this.#left || this.#closed) return;
    try {
      await this.host.registrar.renew(hello);
    } catch (err) {
      try {
        if (isNotFound(err) && !this.#closed && !this.#left) {
          await this.host.registrar.register(hello);
        } else throw err;
      } catch (again) {
        this.logger.warn(
          { err: String(again), instance: hello.instanceId },
          'renewing a proxy check failed',
        );
      }
    }
  }

  /** Write the app check on a status change at once; output-only changes at most every 5 s. */
  async #onHealth(message: HealthMessage): Promise<void> {
    const hello = this.#hello as HelloMessage;
    const last = this.#health;
    const now = Date.now();
    if (last && last.status === message.status && now - last.at < HEALTH_WRITE_INTERVAL_MS) {
      this.#healthLatest = message;
      this.#healthTimer ??= setTimeout(
        () => {
          this.#healthTimer = undefined;
          const latest = this.#healthLatest;
          if (!latest || this.#closed || this.#left) return;
          this.#inbox = this.#inbox.then(() =>
            this.#onHealth(latest).catch((err: unknown) =>
              this.logger.warn(
                { err: String(err), instance: hello.instanceId },
                'writing the app check failed',
              ),
            ),
          );
        },
        last.at + HEALTH_WRITE_INTERVAL_MS - now,
      );
      return;
    }
    clearTimeout(this.#healthTimer);
    this.#healthTimer = undefined;
    this.#healthLatest = undefined;
    this.#health = { status: message.status, at: now };
    await this.host.registrar.health(hello, message);
  }

  /**
   * Get this proxy's snapshot for the current inputs (built once per proxy shape, see
   * `snapshot-cache.ts`) and push it if it differs from the last one pushed (state of the
   * world, version + 1, fresh nonce). Runs one at a time, so versions go out in order. A snapshot the proxy's own checks (`decodeProxyConfig`)
   * would refuse is not pushed: it is logged and recorded as the status's `configError`,
   * and the proxy keeps its last good one. A failed build is logged, and the next change
   * retries.
   */
  refreshConfig(): Promise<void> {
    const next = this.#configChain.then(async () => {
      const hello = this.#hello;
      if (!hello || this.#closed || !this.#identitySent) return;
      // Built once per proxy shape and input version, shared by every session of the shape.
      const shape = this.#shape as KeyedShape;
      const { text, invalid } = this.host.snapshots.get(await this.host.inputs.current(), shape);
      if (this.#closed || text === this.#lastSnapshot) return;
      const status = this.status as ProxyStatus;
      if (invalid !== undefined) {
        if (status.configError !== invalid) {
          this.logger.error(
            { instance: hello.instanceId, service: hello.service, err: invalid },
            'the config snapshot built for this proxy is invalid; not pushed',
          );
          status.configError = invalid;
          this.host.publish(status);
        }
        return;
      }
      this.#lastSnapshot = text;
      const { version, nonce } = this.#nextPush('config', ++this.#configVersion);
      this.#sendText(configFrame(version, nonce, text));
      status.configVersion = this.#configVersion;
      delete status.configError;
      this.host.publish(status);
    });
    this.#configChain = next.catch((err: unknown) =>
      this.logger.error(
        { err, instance: this.#hello?.instanceId },
        'building a config snapshot failed',
      ),
    );
    return this.#configChain;
  }

  #pushLeaf(leaf: IssuedLeaf): void {
    this.#send({
      type: 'leaf',
      ...this.#nextPush('leaf', ++this.#leafVersion),
      certificatePem: leaf.certificatePem,
      chainPem: leaf.chainPem,
      issuedAt: leaf.issuedAt.toISOString(),
      notAfter: leaf.notAfter.toISOString(),
    });
  }

  /**
   * The roots and the revoked serials. A revocation re-sends the same bundle version with
   * a new nonce: the roots did not change, so the CA's acknowledgement stays valid.
   */
  async #pushBundle(): Promise<void> {
    const { records } = await this.ca.revocations();
    const state = this.ca.state;
    this.#send({
      type: 'bundle',
      ...this.#nextPush('bundle', state.bundleVersion),
      roots: trustBundlePems(state),
      revokedSerials: records.map((r) => r.serial).sort(),
    });
  }

  #nextPush(kind: PushKind, version: number): { version: number; nonce: string } {
    const push = { version, nonce: pushNonce() };
    this.#pending.set(kind, push);
    return push;
  }

  async #onAck(message: Extract<ProxyMessage, { type: 'ack' | 'nack' }>): Promise<void> {
    const pending = this.#pending.get(message.kind);
    // An answer to an older push says nothing about the newest one (xDS's rule).
    if (!pending || pending.nonce !== message.nonce || pending.version !== message.version) return;
    const status = this.status as ProxyStatus;
    if (message.type === 'nack') {
      status.lastNack = {
        kind: message.kind,
        version: message.version,
        reason: message.reason,
        at: new Date().toISOString(),
      };
      this.logger.warn({ instance: status.instanceId, ...status.lastNack }, 'proxy refused a push');
    } else {
      status.acked[message.kind] = message.version;
      if (message.kind === 'config') status.configAckedVersion = message.version;
      if (message.kind === 'bundle') {
        await this.ca.acknowledge(this.#spiffeId, message.version, status.instanceId);
      }
    }
    this.host.publish(status);
  }

  #send(message: ZoneMessage): void {
    this.#sendText(JSON.stringify(message));
  }

  #sendText(frame: string): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(frame);
  }

  /** Answer an `error` frame and close: a stream that sent garbage is not trusted further. */
  #refuse(err: unknown): void {
    this.logger.debug({ err: String(err) }, 'proxy stream refused');
    this.#send(errorFrame(err));
    // 1008: policy violation (RFC 6455 §7.4.1).
    this.socket.close(1008, 'refused');
  }
}

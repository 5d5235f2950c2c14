/**
 * One proxy's stream: it authenticated at the upgrade; its first frame must be a `hello`
 * whose service its token may write. The zone registers the instance in the catalog
 * (see `proxy-registrar.ts`), answers with a leaf signed from the hello's CSR, the trust
 * bundle and the first config snapshot, re-pushes the bundle whenever it changes and the
 * snapshot whenever this proxy's view changes, signs renewals, and records every ACK and
 * NACK. A bundle ACK is this instance's acknowledgement to the CA, which a root rotation
 * waits for.
 */
import { randomBytes } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import { decodeProxyMessage, errorFrame } from '../../../core/src/proxy-stream/messages.ts';
import type {
  HelloMessage,
  ProxyMessage,
  PushKind,
  ZoneMessage,
} from '../../../core/src/proxy-stream/messages.ts';
import {
  InvalidArgumentError,
  formatSpiffeId,
  isNotFound,
  trustBundlePems,
} from '../../../core/index.ts';
import type { Logger } from '../../../core/index.ts';
import type { Authorizer } from '../acl/authorizer.ts';
import { requireEntitlement } from '../ca/entitlement.ts';
import type { ZoneCa } from '../ca/zone-ca.ts';
import type { ProxyRegistrar } from './proxy-registrar.ts';
import { buildSnapshot } from './snapshot-builder.ts';
import type { SnapshotInputSource } from './snapshot-inputs.ts';

/** What the zone API shows about a connected (or recently gone) proxy. */
export interface ProxyStatus {
  instanceId: string;
  service: string;
  namespace: string;
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
}

/** What a session needs from its server. */
export interface SessionHost {
  readonly ca: ZoneCa;
  readonly registrar: ProxyRegistrar;
  readonly inputs: SnapshotInputSource;
  readonly logger: Logger;
  /** True once the zone is shutting down: dropped streams are then not the proxy's fault. */
  readonly stopping: boolean;
  publish(status: ProxyStatus): void;
  /** Make `session` the instance's current stream, closing an older one. */
  claim(session: ProxySession, instanceId: string): void;
  isCurrent(session: ProxySession, instanceId: string): boolean;
  release(session: ProxySession, instanceId: string): void;
}

/** A client that says nothing for this long after connecting is dropped. */
export const HELLO_TIMEOUT_MS = 10_000;

export class ProxySession {
  status: ProxyStatus | undefined;
  #hello: HelloMessage | undefined;
  #spiffeId = '';
  #leafVersion = 0;
  /** nonce → push, for matching ACKs; only the newest per kind counts. */
  readonly #pending = new Map<PushKind, { version: number; nonce: string }>();
  #unsubscribe: (() => void) | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #left = false;
  #inbox: Promise<void> = Promise.resolve();
  #closed = false;
  #configVersion = 0;
  #lastSnapshot = '';
  /** Config pushes in order, one at a time. */
  #configChain: Promise<void> = Promise.resolve();
  private readonly ca: ZoneCa;
  private readonly logger: Logger;

  constructor(
    private readonly socket: WebSocket,
    private readonly authz: Authorizer,
    private readonly host: SessionHost,
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
      const text = rawText(data);
      this.#inbox = this.#inbox.then(() => this.#handle(text));
    });
    // A protocol error (an oversized or malformed frame) closes the socket; without a
    // listener ws would throw it on the process.
    socket.on('error', (err) => this.logger.debug({ err: String(err) }, 'proxy stream error'));
    socket.on('close', () => {
      clearTimeout(timer);
      this.#closed = true;
      clearInterval(this.#heartbeat);
      this.#unsubscribe?.();
      const hello = this.#hello;
      if (this.status && hello) {
        const current = this.host.isCurrent(this, hello.instanceId);
        if (current) {
          this.status = {
            ...this.status,
            connected: false,
            disconnectedAt: new Date().toISOString(),
          };
          this.host.publish(this.status);
          this.host.release(this, hello.instanceId);
        }
        // A newer stream of the same instance, a `leave`, or the zone stopping: the proxy
        // did not go away, so its check stays as it is.
        if (current && !this.#left && !this.host.stopping) {
          this.host.registrar
            .disconnected(hello)
            .catch((err: unknown) =>
              this.logger.warn(
                { err: String(err), instance: hello.instanceId },
                'marking a proxy disconnected failed',
              ),
            );
        }
      }
    });
  }

  /** Close this stream because a newer one of the same instance took over. */
  replace(): void {
    this.socket.close(4000, 'replaced by a newer stream of this instance');
  }

  async #handle(frame: string): Promise<void> {
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
          await this.#pushLeaf(message.csr);
          break;
        case 'ack':
        case 'nack':
          await this.#onAck(message);
          break;
        case 'health':
          // After `leave` the instance is gone; a late report must not bring it back.
          if (!this.#left) await this.host.registrar.health(this.#hello as HelloMessage, message);
          break;
        case 'leave':
          this.#left = true;
          clearInterval(this.#heartbeat);
          await this.host.registrar.leave(this.#hello as HelloMessage);
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
    // Registered before anything is pushed: an instance ID another registrar owns is
    // refused (409) without this stream ever becoming that instance's.
    await this.host.registrar.register(hello);
    if (this.#closed) return;
    this.host.claim(this, hello.instanceId);
    this.#hello = hello;
    this.#spiffeId = spiffeId;
    this.status = {
      instanceId: hello.instanceId,
      service: hello.service,
      namespace: hello.namespace,
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
    await this.#pushLeaf(hello.csr);
    await this.#pushBundle();
    const push = (): void => void this.#pushBundle().catch((err: unknown) => this.#refuse(err));
    const offBundle = this.ca.onBundleChange(push);
    const offRevocations = this.ca.onRevocationChange(push);
    this.#unsubscribe = () => {
      offBundle();
      offRevocations();
    };
    await this.refreshConfig();
  }

  /** Keep the stream check passing; re-register if the registration was removed meanwhile. */
  async #renew(hello: HelloMessage): Promise<void> {
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

  /**
   * Build this proxy's snapshot from the current inputs and push it if it differs from
   * the last one pushed (state of the world, version + 1, fresh nonce). Runs one at a time,
   * so versions go out in order. A failed build is logged, and the next change retries.
   */
  refreshConfig(): Promise<void> {
    const next = this.#configChain.then(async () => {
      const hello = this.#hello;
      if (!hello || this.#closed) return;
      const snapshot = buildSnapshot(await this.host.inputs.current(), hello);
      const text = canonicalJson(snapshot);
      if (text === this.#lastSnapshot) return;
      this.#lastSnapshot = text;
      this.#send({
        type: 'config',
        ...this.#nextPush('config', ++this.#configVersion),
        snapshot: snapshot as unknown as Record<string, unknown>,
      });
      const status = this.status as ProxyStatus;
      status.configVersion = this.#configVersion;
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

  async #pushLeaf(csr: string): Promise<void> {
    const leaf = await this.ca.sign(csr, this.#spiffeId);
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
    const push = { version, nonce: randomBytes(8).toString('hex') };
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
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(message));
  }

  /** Answer an `error` frame and close: a stream that sent garbage is not trusted further. */
  #refuse(err: unknown): void {
    this.logger.debug({ err: String(err) }, 'proxy stream refused');
    this.#send(errorFrame(err));
    // 1008: policy violation (RFC 6455 §7.4.1).
    this.socket.close(1008, 'refused');
  }
}

/** JSON with object keys sorted, so equal snapshots compare equal as text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  });
}

/** A frame's text, whatever shape ws delivered it in. */
export function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

/**
 * One proxy's stream: it authenticated at the upgrade; its first frame must be a `hello`
 * whose service its token may write. The zone answers with a leaf signed from the hello's
 * CSR and the trust bundle, re-pushes the bundle whenever it changes, signs renewals, and
 * records every ACK and NACK. A bundle ACK is this instance's acknowledgement to the CA,
 * which a root rotation waits for.
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
import { InvalidArgumentError, formatSpiffeId, trustBundlePems } from '../../../core/index.ts';
import type { Logger } from '../../../core/index.ts';
import type { Authorizer } from '../acl/authorizer.ts';
import { requireEntitlement } from '../ca/entitlement.ts';
import type { ZoneCa } from '../ca/zone-ca.ts';

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

  constructor(
    private readonly socket: WebSocket,
    private readonly authz: Authorizer,
    private readonly ca: ZoneCa,
    private readonly logger: Logger,
    private readonly onStatus: (status: ProxyStatus) => void,
  ) {
    const timer = setTimeout(() => {
      if (!this.#hello)
        this.#refuse(new InvalidArgumentError(`no hello within ${HELLO_TIMEOUT_MS} ms`, 'type'));
    }, HELLO_TIMEOUT_MS);
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        this.#refuse(new InvalidArgumentError('frames must be text (JSON)', 'frame'));
        return;
      }
      void this.#handle(rawText(data));
    });
    // A protocol error (an oversized or malformed frame) closes the socket; without a
    // listener ws would throw it on the process.
    socket.on('error', (err) => this.logger.debug({ err: String(err) }, 'proxy stream error'));
    socket.on('close', () => {
      clearTimeout(timer);
      this.#unsubscribe?.();
      if (this.status) {
        this.status = {
          ...this.status,
          connected: false,
          disconnectedAt: new Date().toISOString(),
        };
        this.onStatus(this.status);
      }
    });
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
    };
    this.onStatus(this.status);
    await this.#pushLeaf(hello.csr);
    await this.#pushBundle();
    const push = (): void => void this.#pushBundle().catch((err: unknown) => this.#refuse(err));
    const offBundle = this.ca.onBundleChange(push);
    const offRevocations = this.ca.onRevocationChange(push);
    this.#unsubscribe = () => {
      offBundle();
      offRevocations();
    };
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
      if (message.kind === 'bundle') {
        await this.ca.acknowledge(this.#spiffeId, message.version, status.instanceId);
      }
    }
    this.onStatus(status);
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

/** A frame's text, whatever shape ws delivered it in. */
export function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

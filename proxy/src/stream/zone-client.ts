/**
 * The proxy's side of the config stream: dials the zone (`wss://`, our dataplane token at
 * the upgrade, the zone's certificate checked against the trust bundle and its control
 * SPIFFE ID), says hello with a CSR, then applies what the zone pushes — leaf, bundle,
 * config — one frame at a time, answering each with an ACK, or a NACK with the reason
 * when it cannot be decoded or applied (what was serving keeps serving).
 *
 * When the zone is unreachable or the stream breaks, it reconnects with exponential
 * backoff and jitter; the proxy keeps serving with its last good leaf and config
 * meanwhile. Each new stream starts with a fresh hello.
 */
import { WebSocket } from 'ws';
import type { ClientOptions, RawData } from 'ws';
import type { PeerCertificate } from 'node:tls';
import { parseSpiffeId, peerSpiffeId, sleep, toErrorBody } from '../../../core/index.ts';
import type { Component, Logger } from '../../../core/index.ts';
import {
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  decodeZoneMessage,
  frameText,
} from '../../../core/src/proxy-stream/messages.ts';
import type {
  BundlePush,
  ConfigPush,
  HealthMessage,
  HelloMessage,
  LeafPush,
  ProxyMessage,
  PushKind,
  ZoneMessage,
} from '../../../core/src/proxy-stream/messages.ts';
import { Backoff } from './backoff.ts';
import { zoneControlIdentityCheck } from './zone-identity-check.ts';

/** What the proxy does with each push; a rejection becomes a NACK with its message. */
export interface ZonePushHandler {
  /**
   * A fresh CSR for a hello (one per stream), for our identity in `zone`: the zone whose
   * control plane answered (its certificate names it), since the zone signs IDs in its own.
   */
  helloCsr(zone: string): Promise<string>;
  leaf(push: LeafPush): Promise<void> | void;
  bundle(push: BundlePush): Promise<void> | void;
  config(push: ConfigPush): Promise<void> | void;
}

export interface ZoneClientOptions {
  /** `wss://host:port/` */
  url: string;
  /** The dataplane token, read at every (re)connect so a rotated token file is picked up. */
  token: () => Promise<string | undefined>;
  /** Roots the zone's certificate must chain to: the CA file, then each bundle pushed. */
  roots: () => readonly string[];
  trustDomain: string;
  /** Accept only this zone's control plane; any zone of the trust domain when unset. */
  zone?: string;
  /** The hello without its CSR, built at each connect (ports are known by then). */
  hello: () => Omit<HelloMessage, 'type' | 'protocol' | 'csr'>;
  handler: ZonePushHandler;
  logger: Logger;
  /** @default 250 */
  backoffBaseMs?: number;
  /** @default 30000 */
  backoffMaxMs?: number;
  /** A ping every this often; a stream without a pong for two periods is dropped. @default 10000 */
  pingIntervalMs?: number;
  /** Extra TLS options for tests. */
  tls?: Pick<ClientOptions, 'handshakeTimeout'>;
}

/** What the admin API shows about the stream. */
export interface ZoneClientStatus {
  url: string;
  connected: boolean;
  connectedAt?: string;
  disconnectedAt?: string;
  /** Streams opened since start. */
  connects: number;
  /** The last applied (ACKed) version per kind. */
  acked: Partial<Record<PushKind, number>>;
  lastNack?: { kind: PushKind; version: number; reason: string; at: string };
  /** Why the last stream ended or failed to open. */
  lastError?: string;
}

export class ZoneClient implements Component {
  readonly name = 'zone-client';
  readonly #status: ZoneClientStatus;
  #socket: WebSocket | undefined;
  /** True once this stream's hello was answered (the zone processes frames only then). */
  #helloAnswered = false;
  #health: HealthMessage | undefined;
  #healthSent: HealthMessage | undefined;
  readonly #backoff: Backoff;
  #leaving = false;
  /** The zone named by the certificate of the control plane we are talking to. */
  #peerZone: string | undefined;

  constructor(private readonly options: ZoneClientOptions) {
    this.#status = { url: options.url, connected: false, connects: 0, acked: {} };
    this.#zoneCheck = zoneControlIdentityCheck(options.trustDomain, options.zone);
    this.#backoff = new Backoff({
      baseMs: options.backoffBaseMs ?? 250,
      maxMs: options.backoffMaxMs ?? 30_000,
    });
  }

  status(): ZoneClientStatus {
    return structuredClone(this.#status);
  }

  get connected(): boolean {
    return this.#status.connected && this.#helloAnswered;
  }

  /** Send a frame on the current stream; false when there is none (it is not queued). */
  send(message: ProxyMessage): boolean {
    const ws = this.#socket;
    if (
      !ws ||
      ws.readyState !== WebSocket.OPEN ||
      (!this.#helloAnswered && message.type !== 'hello')
    ) {
      return false;
    }
    ws.send(JSON.stringify(message));
    return true;
  }

  /** Report the local app's health; sent now if connected, else after the next hello. */
  reportHealth(status: HealthMessage['status'], output: string): void {
    this.#health = { type: 'health', status, output };
    this.#flushHealth();
  }

  async start(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const error = await this.#runStream(signal);
      if (signal.aborted) break;
      this.#status.lastError = error;
      const delay = this.#backoff.next();
      this.options.logger.warn(
        { err: error, retryInMs: delay, attempt: this.#backoff.attempts },
        'zone stream down; serving with the last good config and certificate',
      );
      // core's sleep removes its abort listener when the timer fires: one added per
      // attempt and never removed would pile up on the signal while the zone is down.
      await sleep(delay, signal);
    }
  }

  /** One stream, from dial to close. Resolves with why it ended. */
  async #runStream(signal: AbortSignal): Promise<string> {
    const { logger } = this.options;
    let ws: WebSocket;
    try {
      const token = await this.options.token();
      ws = new WebSocket(this.options.url, {
        ca: [...this.options.roots()],
        // ws types it as a boolean predicate; Node's tls takes (host, cert) => Error | undefined.
        checkServerIdentity: this.#checkZone as unknown as ClientOptions['checkServerIdentity'],
        headers: token ? { Authorization: `Bearer ${token}` } : {},
        maxPayload: MAX_FRAME_BYTES,
        handshakeTimeout: this.options.tls?.handshakeTimeout ?? 10_000,
        minVersion: 'TLSv1.2',
      });
    } catch (err) {
      return String((err as Error).message);
    }
    this.#socket = ws;
    this.#helloAnswered = false;
    this.#healthSent = undefined;
    return new Promise<string>((resolve) => {
      let why = 'closed';
      /** An HTTP refusal at the upgrade: the reason, whatever errors the abort raises. */
      let refused: string | undefined;
      let alive = true;
      let ping: NodeJS.Timeout | undefined;
      // Frames are applied one at a time, in order: a config must not race the leaf.
      let queue: Promise<void> = Promise.resolve();
      const onAbort = () => {
        void this.#leave(ws);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => {
          refused = `the zone refused the stream: HTTP ${res.statusCode} ${body.trim()}`;
          ws.terminate();
        });
      });
      ws.on('open', () => {
        this.#status.connected = true;
        this.#status.connects++;
        this.#status.connectedAt = new Date().toISOString();
        logger.info({ url: this.options.url }, 'zone stream open');
        ping = setInterval(() => {
          if (!alive) {
            why = 'no pong from the zone';
            ws.terminate();
            return;
          }
          alive = false;
          ws.ping();
        }, this.options.pingIntervalMs ?? 10_000);
        queue = queue
          .then(() => this.#sendHello(ws))
          .catch((err: unknown) => {
            why = `hello failed: ${String(err)}`;
            ws.terminate();
          });
      });
      ws.on('pong', () => (alive = true));
      ws.on('message', (data: RawData, isBinary: boolean) => {
        alive = true;
        const text = frameText(data);
        queue = queue.then(() => (isBinary ? undefined : this.#onFrame(ws, text)));
      });
      ws.on('error', (err) => {
        why = err.message;
      });
      ws.on('close', (code, reason) => {
        clearInterval(ping);
        signal.removeEventListener('abort', onAbort);
        if (this.#status.connected) {
          this.#status.connected = false;
          this.#status.disconnectedAt = new Date().toISOString();
          if (why === 'closed')
            why = `closed by the zone (${code}${reason.length ? ` ${reason.toString()}` : ''})`;
        }
        this.#socket = undefined;
        this.#helloAnswered = false;
        void queue.then(() => resolve(refused ?? why));
      });
    });
  }

  /** checkServerIdentity: the zone check, remembering which zone answered. */
  readonly #checkZone = (host: string, cert: PeerCertificate): Error | undefined => {
    const refused = this.#zoneCheck(host, cert);
    if (refused === undefined) this.#peerZone = parseSpiffeId(peerSpiffeId(cert)).zone;
    return refused;
  };

  readonly #zoneCheck: (host: string, cert: PeerCertificate) => Error | undefined;

  async #sendHello(ws: WebSocket): Promise<void> {
    const zone = this.#peerZone;
    if (zone === undefined) throw new Error('the zone certificate was not checked');
    const csr = await this.options.handler.helloCsr(zone);
    const hello: HelloMessage = {
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      ...this.options.hello(),
      csr,
    };
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(hello));
  }

  async #onFrame(ws: WebSocket, text: string): Promise<void> {
    const { logger } = this.options;
    let message: ZoneMessage;
    try {
      message = decodeZoneMessage(text);
    } catch (err) {
      // A frame we cannot even read has no kind, version or nonce to NACK: log it, drop it.
      logger.warn({ err: (err as Error).message }, 'ignoring a malformed frame from the zone');
      this.#status.lastError = `malformed frame: ${(err as Error).message}`;
      return;
    }
    if (message.type === 'error') {
      logger.warn(
        { code: message.code, field: message.field },
        `the zone refused the stream: ${message.message}`,
      );
      this.#status.lastError = `${message.code}: ${message.message}`;
      return;
    }
    if (!this.#helloAnswered) {
      // The zone answered our hello: it will take our other frames now.
      this.#helloAnswered = true;
      this.#backoff.reset();
    }
    const handler = this.options.handler;
    try {
      if (message.type === 'leaf') await handler.leaf(message);
      else if (message.type === 'bundle') await handler.bundle(message);
      else await handler.config(message);
    } catch (err) {
      const reason = reasonOf(err);
      this.#status.lastNack = {
        kind: message.type,
        version: message.version,
        reason,
        at: new Date().toISOString(),
      };
      logger.warn(
        { kind: message.type, version: message.version, reason },
        'refused a push from the zone; keeping what serves',
      );
      this.#reply(ws, {
        type: 'nack',
        kind: message.type,
        version: message.version,
        nonce: message.nonce,
        reason,
      });
      return;
    }
    this.#status.acked[message.type] = message.version;
    this.#reply(ws, {
      type: 'ack',
      kind: message.type,
      version: message.version,
      nonce: message.nonce,
    });
    this.#flushHealth();
  }

  #reply(ws: WebSocket, message: ProxyMessage): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  #flushHealth(): void {
    const health = this.#health;
    if (!health || !this.connected) return;
    if (this.#healthSent?.status === health.status && this.#healthSent.output === health.output)
      return;
    if (this.send(health)) this.#healthSent = health;
  }

  /** Graceful stop: tell the zone to deregister us now, then close the stream. */
  async #leave(ws: WebSocket): Promise<void> {
    if (this.#leaving) return;
    this.#leaving = true;
    if (ws.readyState === WebSocket.OPEN && this.#helloAnswered) {
      await new Promise<void>((resolve) =>
        ws.send(JSON.stringify({ type: 'leave' }), () => resolve()),
      );
    }
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(1001, 'proxy stopping');
    // A zone that does not answer the close handshake is not waited for.
    setTimeout(() => ws.terminate(), 2000).unref();
  }
}

/** A NACK reason: the error's message with its code, bounded. */
function reasonOf(err: unknown): string {
  const { error } = toErrorBody(err);
  const text =
    err instanceof Error && error.code === 'CW_ERR_INTERNAL' ? err.message : error.message;
  const field = error.field ? ` (${error.field})` : '';
  return `${text}${field}`.slice(0, 4000);
}

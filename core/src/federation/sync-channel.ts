/**
 * One zone sync connection, either side: frames in and out of a WebSocket, deltas to the
 * inbox (answered with its ACK or NACK), ACKs and NACKs to the outbox, heartbeats both
 * ways, and everything else to the owner. A frame that fails to decode is answered with
 * an `error` frame naming the field, and the connection is closed: a peer that speaks a
 * different protocol gets a reason, not silence.
 */
import type { WebSocket } from 'ws';
import type { Logger } from '../logging.ts';
import { frameText } from '../proxy-stream/messages.ts';
import type { ResourceInbox } from './resource-inbox.ts';
import type { ResourceOutbox } from './resource-outbox.ts';
import type { ResourceType } from './resources.ts';
import { MAX_SYNC_FRAME_BYTES, syncErrorFrame } from './sync-messages.ts';
import type { CommonMessage } from './sync-messages.ts';

/** Close codes (4000-4999 are the application's). */
export const CLOSE_HEARTBEAT = 4000;
export const CLOSE_PROTOCOL = 4001;
export const CLOSE_REPLACED = 4002;
export const CLOSE_ZONE_DISABLED = 4003;
export const CLOSE_SHUTDOWN = 1001;

export interface SyncChannelOptions<In extends { type: string }> {
  socket: WebSocket;
  decode: (text: string) => In;
  inbox: ResourceInbox<ResourceType>;
  logger: Logger;
  /** Frames that are not deltas, ACKs, NACKs or heartbeats (hello, welcome, insight, error). */
  onFrame: (frame: Exclude<In, CommonMessage> | Extract<CommonMessage, { type: 'error' }>) => void;
  onClose: (code: number, reason: string) => void;
  /** A delta was applied (after its ACK went out). */
  onApplied?: (resourceType: ResourceType) => void;
  now?: () => number;
}

export class SyncChannel<In extends { type: string }, Out extends { type: string }> {
  #outbox: ResourceOutbox<ResourceType> | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #lastSeen: number;
  #closed = false;
  readonly #now: () => number;

  constructor(private readonly options: SyncChannelOptions<In>) {
    this.#now = options.now ?? Date.now;
    this.#lastSeen = this.#now();
    const { socket } = options;
    socket.on('message', (data, isBinary) => this.#receive(data as Buffer, isBinary));
    socket.on('close', (code, reason) => this.#closedBy(code, reason.toString()));
    socket.on('error', (err) => {
      options.logger.debug({ err: String(err) }, 'sync connection error');
    });
  }

  get lastSeen(): number {
    return this.#lastSeen;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Route ACKs and NACKs to this outbox from now on. */
  attachOutbox(outbox: ResourceOutbox<ResourceType>): void {
    this.#outbox = outbox;
  }

  send(frame: Out | CommonMessage): void {
    if (this.#closed || this.options.socket.readyState !== this.options.socket.OPEN) return;
    this.options.socket.send(JSON.stringify(frame));
  }

  /** Ping every `ms`; a peer silent for 3 × `ms` is closed. */
  startHeartbeat(ms: number): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => {
      if (this.#now() - this.#lastSeen > 3 * ms) {
        this.close(CLOSE_HEARTBEAT, `no frame from the peer for ${3 * ms} ms`);
        return;
      }
      this.send({ type: 'ping', at: this.#now() });
    }, ms);
    this.#heartbeat.unref();
  }

  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#stop();
    const socket = this.options.socket;
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) {
      socket.close(code, reason.slice(0, 120));
      // A peer that never answers the close handshake must not hold the socket.
      setTimeout(() => socket.terminate(), 2000).unref();
    }
    this.options.onClose(code, reason);
  }

  #stop(): void {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#outbox?.close();
    this.options.inbox.reset();
  }

  #closedBy(code: number, reason: string): void {
    if (this.#closed) return;
    this.#stop();
    this.options.onClose(code, reason);
  }

  #receive(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return;
    this.#lastSeen = this.#now();
    let frame: In;
    try {
      if (isBinary) throw new Error('binary frames are not part of the sync protocol');
      const text = frameText(data);
      if (text.length > MAX_SYNC_FRAME_BYTES) throw new Error('frame too large');
      frame = this.options.decode(text);
    } catch (err) {
      this.send(syncErrorFrame(err));
      this.close(CLOSE_PROTOCOL, `bad frame: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const common = frame as unknown as CommonMessage;
    switch (common.type) {
      case 'ping':
        this.send({ type: 'pong', at: this.#now() });
        return;
      case 'pong':
        return;
      case 'ack':
        this.#outbox?.onAck(common);
        return;
      case 'nack':
        this.#outbox?.onNack(common);
        return;
      case 'delta':
        this.options.inbox.apply(common).then(
          (answer) => {
            if (answer) this.send(answer);
            if (answer?.type === 'ack') this.options.onApplied?.(common.resourceType);
          },
          (err: unknown) => {
            this.options.logger.error({ err: String(err) }, 'applying a sync delta failed');
          },
        );
        return;
      default:
        this.options.onFrame(frame as Parameters<SyncChannelOptions<In>['onFrame']>[0]);
    }
  }
}

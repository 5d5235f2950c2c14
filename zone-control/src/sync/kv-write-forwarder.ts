/**
 * Writes of global keys in flight from this zone to global: each goes out as a
 * `kv-write` frame with an id, and waits for the `kv-written` answer with that id (at
 * most {@link FORWARD_TIMEOUT_MS}). A write made while no connection is up fails at once
 * (`unreachable`, nothing sent); one whose connection closes before the answer fails
 * with `lost` (global may have applied it).
 */
import { randomUUID } from 'node:crypto';
import type { KvWriteMessage, KvWriteOp, KvWrittenMessage } from '../../../core/index.ts';
import { KvForwardError } from '../kv/global-kv.ts';
import { FORWARD_TIMEOUT_MS } from '../kv/global-kv-errors.ts';

interface InFlight {
  resolve: (answer: KvWrittenMessage) => void;
  reject: (err: KvForwardError) => void;
  timer: NodeJS.Timeout;
}

export class KvWriteForwarder {
  readonly #inFlight = new Map<string, InFlight>();
  #send: ((frame: KvWriteMessage) => void) | undefined;

  constructor(private readonly timeoutMs = FORWARD_TIMEOUT_MS) {}

  /** A connection is up (welcomed): writes go out through `send`. */
  attach(send: (frame: KvWriteMessage) => void): void {
    this.#send = send;
  }

  /** The connection closed: writes waiting for an answer fail with `lost`. */
  detach(): void {
    this.#send = undefined;
    for (const [id, w] of this.#inFlight) {
      clearTimeout(w.timer);
      w.reject(
        new KvForwardError('lost', 'the connection to global closed before global answered'),
      );
      this.#inFlight.delete(id);
    }
  }

  get attached(): boolean {
    return this.#send !== undefined;
  }

  forward(op: KvWriteOp): Promise<KvWrittenMessage> {
    const send = this.#send;
    if (!send) {
      return Promise.reject(
        new KvForwardError('unreachable', 'the global control plane is unreachable'),
      );
    }
    const id = randomUUID();
    return new Promise<KvWrittenMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#inFlight.delete(id);
        reject(
          new KvForwardError(
            'timeout',
            `global did not answer within ${Math.round(this.timeoutMs / 1000)} s`,
          ),
        );
      }, this.timeoutMs);
      this.#inFlight.set(id, { resolve, reject, timer });
      send({ type: 'kv-write', id, op });
    });
  }

  /** Global's answer; one for an id nobody waits for (timed out) is dropped. */
  answer(frame: KvWrittenMessage): boolean {
    const w = this.#inFlight.get(frame.id);
    if (!w) return false;
    clearTimeout(w.timer);
    this.#inFlight.delete(frame.id);
    w.resolve(frame);
    return true;
  }
}

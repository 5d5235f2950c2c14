/**
 * The consumer side of a store watch: filters batches by prefix, buffers them until the
 * consumer pulls, and turns "fell too far behind" into an explicit `resync` event instead
 * of silently dropping changes. Both backends feed their watchers through this class.
 */
import type { ChangeBatch, WatchEvent } from './types.ts';

export interface WatchChannelOptions {
  prefix: string;
  exact?: boolean;
  /** Buffered events beyond which the watcher is told to resync (slow consumer). */
  maxBuffered?: number;
  signal?: AbortSignal;
  /** Called once when the channel ends, so the producer can forget it. */
  onClose?: () => void;
}

export const DEFAULT_MAX_BUFFERED = 10_000;

export class WatchChannel implements AsyncIterableIterator<WatchEvent> {
  readonly prefix: string;
  readonly exact: boolean;
  private readonly maxBuffered: number;
  private readonly onClose: (() => void) | undefined;
  private readonly buffer: WatchEvent[] = [];
  /**
   * Pending `next()` calls, oldest first. Usually one, but nothing stops a consumer from
   * calling `next()` again before the last call settled; each call gets its own event.
   */
  private readonly waiters: ((r: IteratorResult<WatchEvent>) => void)[] = [];
  private ended = false;
  private endAfterBuffer = false;
  private readonly signal: AbortSignal | undefined;
  private readonly abortListener = (): void => this.close();

  constructor(options: WatchChannelOptions) {
    this.prefix = options.prefix;
    this.exact = options.exact ?? false;
    this.maxBuffered = options.maxBuffered ?? DEFAULT_MAX_BUFFERED;
    this.onClose = options.onClose;
    this.signal = options.signal;
    if (this.signal?.aborted) {
      // Closed at once, but `onClose` runs on the next microtask: it usually refers to the
      // channel being constructed, which does not exist yet inside this call.
      this.ended = true;
      queueMicrotask(() => this.detach());
    } else this.signal?.addEventListener('abort', this.abortListener, { once: true });
  }

  get closed(): boolean {
    return this.ended || this.endAfterBuffer;
  }

  matches(key: string): boolean {
    return this.exact ? key === this.prefix : key.startsWith(this.prefix);
  }

  /** Deliver the part of a batch that matches this watch; a batch with no match is skipped. */
  offer(batch: ChangeBatch): void {
    if (this.closed) return;
    const changes = batch.changes.filter((c) => this.matches(c.key));
    if (changes.length === 0) return;
    if (this.buffer.length >= this.maxBuffered) {
      this.resync(batch.index, 'watcher fell behind: too many undelivered changes');
      return;
    }
    this.push({ type: 'change', index: batch.index, changes });
  }

  /** Tell the watcher it missed changes; the iteration ends after this event. */
  resync(index: number, reason: string): void {
    if (this.closed) return;
    this.buffer.length = 0;
    this.push({ type: 'resync', index, reason });
    this.endAfterBuffer = true;
    this.detach();
    // The resync went to the oldest waiter; nothing follows it, so the rest are done.
    if (this.waiters.length > 0) this.end();
  }

  /** End the iteration now, dropping anything not yet delivered. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.buffer.length = 0;
    this.detach();
    this.end();
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    const value = this.buffer.shift();
    if (value !== undefined) return Promise.resolve({ done: false, value });
    if (this.ended || this.endAfterBuffer) {
      this.ended = true;
      return Promise.resolve({ done: true, value: undefined });
    }
    return new Promise((resolve) => {
      this.waiters.push(resolve);
    });
  }

  return(): Promise<IteratorResult<WatchEvent>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WatchEvent> {
    return this;
  }

  private push(event: WatchEvent): void {
    const w = this.waiters.shift();
    if (w) w({ done: false, value: event });
    else this.buffer.push(event);
  }

  /** Mark the iteration over and settle every pending `next()` with done. */
  private end(): void {
    this.ended = true;
    for (const w of this.waiters.splice(0)) w({ done: true, value: undefined });
  }

  private detached = false;
  private detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.signal?.removeEventListener('abort', this.abortListener);
    this.onClose?.();
  }
}

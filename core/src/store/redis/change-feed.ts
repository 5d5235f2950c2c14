/**
 * The shared change-log reader behind every watch on one Redis store.
 *
 * One dedicated connection loops on `XREAD BLOCK` from the last ID it saw and fans each
 * batch out to the in-process watchers, so a thousand watches cost one blocked connection,
 * not a thousand. A new watcher first catches up from its `fromIndex` with `XRANGE` on the
 * command connection while live batches queue up for it, then switches to the live feed;
 * per-watcher "last index delivered" bookkeeping drops the overlap and turns any gap into
 * a resync, so a watcher never skips or repeats a batch.
 *
 * A store reset (Redis restarted without persistence, FLUSHALL) is detected through the
 * epoch: every log entry carries it, and the reader re-checks it and the index after every
 * reconnect and every idle block.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { CorruptDataError } from '../../errors.ts';
import type { ChangeBatch } from '../types.ts';
import { DEFAULT_MAX_BUFFERED, WatchChannel } from '../watch-channel.ts';
import type { WatchChannelOptions } from '../watch-channel.ts';
import { decodeBatch, toIndex } from './codec.ts';
import type { DecodedBatch, RedisKeys } from './codec.ts';
import type { ConnectionState, RedisClient, RedisStoreLogger } from './redis-client.ts';
import type { ScriptCommands } from './scripts.ts';

/** How long one XREAD blocks before the reader re-checks for a reset. */
export const BLOCK_MS = 5_000;
const PAGE = 512;

interface Subscriber {
  channel: WatchChannel;
  /** Index of the last batch handed to (or skipped by) this watcher. */
  last: number;
  /** Live batches that arrived while the watcher was still catching up. */
  pending: ChangeBatch[] | undefined;
}

export interface Probe {
  index: number;
  epoch: string;
  /** Index of the oldest batch still in the log, or undefined if the log is empty. */
  first: number | undefined;
}

/** Read the index, epoch and oldest retained batch in one atomic step. */
export async function probe(client: RedisClient, keys: RedisKeys): Promise<Probe> {
  const reply = (await (client as unknown as ScriptCommands).cwProbe(
    keys.index,
    keys.epoch,
    keys.log,
    randomUUID(),
  )) as [string, string, string];
  const [index, epoch, firstId] = reply;
  return {
    index: toIndex(index),
    epoch,
    first: firstId === '' ? undefined : toIndex(firstId.replace(/-0$/, '')),
  };
}

export class ChangeFeed {
  private readonly subs = new Set<Subscriber>();
  private delivered = 0;
  private epoch = '';
  private closed = false;
  /** Aborted on close, so back-off pauses end at once instead of holding the process. */
  private readonly stopping = new AbortController();
  private loopDone: Promise<void> = Promise.resolve();

  constructor(
    private readonly keys: RedisKeys,
    private readonly commands: ConnectionState,
    private readonly reader: ConnectionState,
    private readonly logger: RedisStoreLogger | undefined,
  ) {}

  /** Learn where the log stands and start the reader loop. */
  async start(): Promise<void> {
    const p = await probe(this.reader.client, this.keys);
    this.delivered = p.index;
    this.epoch = p.epoch;
    this.loopDone = this.loop();
  }

  /** A watch on `prefix` that yields every batch after `fromIndex`. */
  watch(fromIndex: number, options: Omit<WatchChannelOptions, 'onClose'>): WatchChannel {
    // The channel may close inside its constructor (an aborted signal), before `sub` exists.
    const ref: { sub?: Subscriber } = {};
    const channel = new WatchChannel({
      ...options,
      onClose: () => {
        if (ref.sub) this.subs.delete(ref.sub);
      },
    });
    if (channel.closed) return channel;
    const sub: Subscriber = { channel, last: fromIndex, pending: [] };
    ref.sub = sub;
    this.subs.add(sub);
    void this.catchUp(sub);
    return channel;
  }

  /**
   * End every watch and stop reading. The loop may be parked in a blocking XREAD: the caller
   * disconnects the reader client, then awaits {@link stopped}.
   */
  close(): void {
    this.closed = true;
    this.stopping.abort();
    for (const sub of [...this.subs]) sub.channel.close();
    this.subs.clear();
  }

  /** Settles once the reader loop has exited. */
  stopped(): Promise<void> {
    return this.loopDone;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    let recheck = false;
    while (!this.closed) {
      try {
        if (recheck) this.checkReset(await probe(this.reader.client, this.keys));
        recheck = false;
        const reply = (await this.reader.client.xreadBuffer(
          'COUNT',
          PAGE,
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          this.keys.log,
          `${this.delivered}-0`,
        )) as [Buffer, unknown[]][] | null;
        failures = 0;
        if (reply === null) {
          recheck = true; // idle: a cheap probe catches a FLUSHALL nobody wrote after
          continue;
        }
        for (const raw of reply[0]?.[1] ?? []) {
          if (this.closed) return;
          this.dispatch(raw);
        }
      } catch (err) {
        if (this.closed) return;
        // Connection trouble: the client reconnects on its own (ConnectionState logs that);
        // afterwards, re-check for a reset before reading on from the last ID. Anything
        // else is worth a log line, once per streak.
        if (failures === 0 && this.reader.ready) {
          this.logger?.warn({ err: (err as Error).message }, 'redis watch reader failed; retrying');
        }
        recheck = true;
        await this.pause(Math.min(50 * 2 ** failures++, 1_000));
      }
    }
  }

  private checkReset(p: Probe): void {
    if (p.epoch !== this.epoch || p.index < this.delivered) {
      this.resyncAll(p.index, 'the store was reset (its data was lost or replaced)');
      this.epoch = p.epoch;
      this.delivered = p.index;
    }
  }

  private dispatch(raw: unknown): void {
    let decoded: DecodedBatch;
    try {
      decoded = decodeBatch(raw);
    } catch (err) {
      // Skip what cannot be read rather than stall every watcher on it forever.
      const id = Array.isArray(raw) ? String(raw[0]) : '';
      const parsed = Number(id.split('-')[0]);
      const index = Number.isSafeInteger(parsed) ? parsed : this.delivered + 1;
      this.logger?.error({ err, index }, 'unreadable redis change log entry; watchers resync');
      this.resyncAll(index, `change log entry ${index} is unreadable`);
      this.delivered = index;
      return;
    }
    const { batch, epoch } = decoded;
    if (epoch !== this.epoch) {
      this.resyncAll(batch.index, 'the store was reset (its data was lost or replaced)');
      this.epoch = epoch;
    } else if (batch.index !== this.delivered + 1) {
      this.resyncAll(batch.index, `changes after index ${this.delivered} are no longer retained`);
    } else {
      for (const sub of [...this.subs]) {
        if (sub.pending === undefined) this.accept(sub, batch);
        else if (sub.pending.length >= DEFAULT_MAX_BUFFERED) {
          this.resync(sub, batch.index, 'watcher fell behind while catching up');
        } else sub.pending.push(batch);
      }
    }
    this.delivered = batch.index;
  }

  /** Replay history after `sub.last`, then hand the watcher over to the live feed. */
  private async catchUp(sub: Subscriber): Promise<void> {
    for (let attempt = 0; !sub.channel.closed && !this.closed; attempt++) {
      try {
        const p = await probe(this.commands.client, this.keys);
        if (sub.channel.closed) return;
        if (p.epoch !== this.epoch) {
          return this.resync(sub, p.index, 'the store was reset (its data was lost or replaced)');
        }
        if (sub.last > p.index) {
          return this.resync(
            sub,
            p.index,
            `fromIndex ${sub.last} is ahead of the store's index ${p.index} (was it reset?)`,
          );
        }
        if (sub.last < p.index && (p.first === undefined || p.first > sub.last + 1)) {
          return this.resync(
            sub,
            p.index,
            `changes after index ${sub.last} are no longer retained (history starts at ${p.first ?? p.index + 1})`,
          );
        }
        if (!(await this.replay(sub))) return;
        const pending = sub.pending ?? [];
        sub.pending = undefined;
        for (const batch of pending) if (!this.accept(sub, batch)) return;
        return;
      } catch (err) {
        if (err instanceof CorruptDataError) {
          return this.resync(sub, sub.last, `the change log is unreadable: ${err.message}`);
        }
        // Redis is away: keep the watch and its queued live batches, try again shortly.
        await this.pause(Math.min(50 * 2 ** attempt, 2_000));
      }
    }
  }

  /** Page through the log after `sub.last`; false if the watcher ended on the way. */
  private async replay(sub: Subscriber): Promise<boolean> {
    for (;;) {
      const page = (await this.commands.client.xrangeBuffer(
        this.keys.log,
        `${sub.last + 1}-0`,
        '+',
        'COUNT',
        PAGE,
      )) as unknown[];
      for (const raw of page) {
        const { batch, epoch } = decodeBatch(raw);
        if (epoch !== this.epoch) {
          this.resync(sub, batch.index, 'the store was reset (its data was lost or replaced)');
          return false;
        }
        if (!this.accept(sub, batch)) return false;
      }
      if (page.length < PAGE) return true;
    }
  }

  /** Deliver `batch` unless already seen; a gap means lost changes. False once ended. */
  private accept(sub: Subscriber, batch: ChangeBatch): boolean {
    if (batch.index <= sub.last) return true;
    if (batch.index !== sub.last + 1) {
      this.resync(sub, batch.index, `changes after index ${sub.last} are no longer retained`);
      return false;
    }
    sub.channel.offer(batch);
    sub.last = batch.index;
    return !sub.channel.closed;
  }

  private resync(sub: Subscriber, index: number, reason: string): void {
    sub.channel.resync(index, reason);
    this.subs.delete(sub);
  }

  private pause(ms: number): Promise<void> {
    return delay(ms, undefined, { signal: this.stopping.signal }).catch(() => undefined);
  }

  private resyncAll(index: number, reason: string): void {
    for (const sub of [...this.subs]) this.resync(sub, index, reason);
  }
}

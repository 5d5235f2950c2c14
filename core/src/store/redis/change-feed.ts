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
 * epoch: every log entry carries it, and the reader re-checks it after every reconnect and
 * every idle block. A partial loss keeps the epoch (Redis restarted from an AOF missing its
 * last second, a failover to a replica that lagged) and other writers may then reuse the
 * lost index numbers; that is detected through nonces: every entry carries its own and its
 * predecessor's, the reader checks each batch's predecessor against the last batch it
 * read, and its re-checks confirm that batch is still in the log with the same nonce.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { CorruptDataError } from '../../errors.ts';
import type { ChangeBatch } from '../types.ts';
import { DEFAULT_MAX_BUFFERED, WatchChannel } from '../watch-channel.ts';
import type { WatchChannelOptions } from '../watch-channel.ts';
import { copyChange, decodeBatch } from './codec.ts';
import type { DecodedBatch, Nonce, RedisKeys } from './codec.ts';
import { divergence, probe } from './log-probe.ts';
import type { Position, Probe } from './log-probe.ts';
import type { ConnectionState, RedisStoreLogger } from './redis-client.ts';

/** How long one XREAD blocks before the reader re-checks for a reset. */
export const BLOCK_MS = 5_000;
const PAGE = 512;

/** A batch as the log holds it: the batch, and what ties it into one history. */
interface LogBatch {
  batch: ChangeBatch;
  nonce: Nonce;
  prev: Nonce;
}

interface Subscriber {
  channel: WatchChannel;
  /** Index of the last batch handed to (or skipped by) this watcher. */
  last: number;
  /** Nonce of that batch; undefined until the watcher has seen one from the log. */
  nonce: Nonce;
  /** Live batches that arrived while the watcher was still catching up. */
  pending: LogBatch[] | undefined;
}

export class ChangeFeed {
  private readonly subs = new Set<Subscriber>();
  private epoch = '';
  private delivered = 0;
  /** Nonce of the batch at `delivered`: the next batch must name it as its predecessor. */
  private nonce: Nonce = null;
  /**
   * Bumped whenever the feed jumps to another history (a reset, a rewrite, a gap), so a
   * probe or read that was in flight across the jump is known to be stale.
   */
  private generation = 0;
  /** The reader connection's CLIENT ID, to wake its blocked XREAD after a jump. */
  private readerId: number | undefined;
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
    await this.learnReaderId();
    if (this.closed) return;
    this.moveTo(p);
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
    const sub: Subscriber = { channel, last: fromIndex, nonce: undefined, pending: [] };
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
        if (recheck) await this.recheck();
        recheck = false;
        const generation = this.generation;
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
        // A watcher's catch-up moved the feed to another history meanwhile (and woke us):
        // what we read continues the old one; read again from the new position.
        if (generation !== this.generation) continue;
        if (reply === null) {
          recheck = true; // idle: a cheap probe catches a reset or rewrite nobody wrote after
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

  /**
   * After a reconnect or an idle block: is the last batch read still in the log, with the
   * same nonce? If Redis lost it, or the data was reset, every watcher resyncs.
   */
  private async recheck(): Promise<void> {
    const generation = this.generation;
    const was = this.position();
    const p = await probe(this.reader.client, this.keys, was.delivered);
    // A reconnect gives the reader a new client ID.
    await this.learnReaderId();
    if (generation !== this.generation || this.closed) return;
    const reason = divergence(p, was);
    if (reason !== undefined) this.jump(p, reason);
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
      this.nonce = undefined;
      return;
    }
    const { batch, epoch, nonce, prev } = decoded;
    if (epoch !== this.epoch) {
      this.resyncAll(batch.index, 'the store was reset (its data was lost or replaced)');
      this.epoch = epoch;
    } else if (batch.index !== this.delivered + 1) {
      this.resyncAll(batch.index, `changes after index ${this.delivered} are no longer retained`);
    } else if (!follows(prev, this.nonce)) {
      this.resyncAll(
        batch.index,
        `the change at index ${this.delivered} was lost or replaced (Redis lost writes)`,
      );
    } else {
      const entry: LogBatch = { batch, nonce, prev };
      for (const sub of [...this.subs]) {
        if (sub.pending === undefined) this.accept(sub, entry);
        else if (sub.pending.length >= DEFAULT_MAX_BUFFERED) {
          this.resync(sub, batch.index, 'watcher fell behind while catching up');
        } else sub.pending.push(entry);
      }
    }
    this.delivered = batch.index;
    this.nonce = nonce;
  }

  /** Replay history after `sub.last`, then hand the watcher over to the live feed. */
  private async catchUp(sub: Subscriber): Promise<void> {
    for (let attempt = 0; !sub.channel.closed && !this.closed;) {
      try {
        const generation = this.generation;
        const was = this.position();
        const p = await probe(this.commands.client, this.keys, was.delivered);
        if (sub.channel.closed || this.closed) return;
        // The feed jumped while we looked: compare against where it is now.
        if (generation !== this.generation) continue;
        // The log is on a history the reader has not noticed yet (its XREAD waits for IDs
        // above the old position). Move the feed there now rather than turn away every new
        // watcher until the reader's next idle check.
        const reason = divergence(p, was);
        if (reason !== undefined) this.jump(p, reason, sub);
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
        for (const entry of pending) if (!this.accept(sub, entry)) return;
        return;
      } catch (err) {
        if (err instanceof CorruptDataError) {
          return this.resync(sub, sub.last, `the change log is unreadable: ${err.message}`);
        }
        // Redis is away: keep the watch and its queued live batches, try again shortly.
        await this.pause(Math.min(50 * 2 ** attempt++, 2_000));
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
        const { batch, epoch, nonce, prev } = decodeBatch(raw);
        if (epoch !== this.epoch) {
          this.resync(sub, batch.index, 'the store was reset (its data was lost or replaced)');
          return false;
        }
        if (!this.accept(sub, { batch, nonce, prev })) return false;
      }
      if (page.length < PAGE) return true;
    }
  }

  /** Deliver a batch unless already seen; a gap means lost changes. False once ended. */
  private accept(sub: Subscriber, { batch, nonce, prev }: LogBatch): boolean {
    if (batch.index <= sub.last) return true;
    if (batch.index !== sub.last + 1) {
      this.resync(sub, batch.index, `changes after index ${sub.last} are no longer retained`);
      return false;
    }
    // A replayed batch and a queued live one can come from different histories if Redis
    // lost writes during the catch-up.
    if (!follows(prev, sub.nonce)) {
      this.resync(sub, batch.index, `the change at index ${sub.last} was lost or replaced`);
      return false;
    }
    // Each watcher gets its own copy: one consumer changing an entry must not change
    // what the others see.
    const changes = batch.changes.filter((c) => sub.channel.matches(c.key)).map(copyChange);
    if (changes.length > 0) sub.channel.offer({ index: batch.index, changes });
    sub.last = batch.index;
    sub.nonce = nonce;
    return !sub.channel.closed;
  }

  private resync(sub: Subscriber, index: number, reason: string): void {
    sub.channel.resync(index, reason);
    this.subs.delete(sub);
  }

  private pause(ms: number): Promise<void> {
    return delay(ms, undefined, { signal: this.stopping.signal }).catch(() => undefined);
  }

  private position(): Position {
    return { epoch: this.epoch, delivered: this.delivered, nonce: this.nonce };
  }

  /** Take the log's current end as the feed's position. */
  private moveTo(p: Probe): void {
    this.epoch = p.epoch;
    this.delivered = p.last ?? p.index;
    this.nonce = p.lastNonce;
  }

  /**
   * Move the feed onto the history a probe found: every watcher resyncs except `keep` (a
   * watcher catching up against that very probe), and the reader, if it is blocked on the
   * old position, is woken to read on from the new one.
   */
  private jump(p: Probe, reason: string, keep?: Subscriber): void {
    for (const sub of [...this.subs]) if (sub !== keep) this.resync(sub, p.index, reason);
    // Live batches queued for `keep` came from the old history.
    if (keep !== undefined) keep.pending = [];
    this.generation++;
    this.moveTo(p);
    if (keep !== undefined) this.wakeReader();
  }

  private resyncAll(index: number, reason: string): void {
    this.generation++;
    for (const sub of [...this.subs]) this.resync(sub, index, reason);
  }

  private async learnReaderId(): Promise<void> {
    try {
      // In a cluster, the keyed command routes the pipeline to the node XREAD uses.
      const replies = await this.reader.client.pipeline().exists(this.keys.log).client('ID').exec();
      const id = Number(replies?.[1]?.[1]);
      this.readerId = Number.isSafeInteger(id) ? id : undefined;
    } catch {
      this.readerId = undefined;
    }
  }

  /**
   * CLIENT UNBLOCK the reader's XREAD, sent on the command connection (to the same node, by
   * the same routing trick). If it fails (an ACL may forbid it), the reader still reads on
   * from the new position once its block times out.
   */
  private wakeReader(): void {
    if (this.readerId === undefined) return;
    this.commands.client
      .pipeline()
      .exists(this.keys.log)
      .client('UNBLOCK', this.readerId)
      .exec()
      .catch(() => undefined);
  }
}

/** Whether a batch naming `prev` as its predecessor follows the batch whose nonce is `last`. */
function follows(prev: Nonce, last: Nonce): boolean {
  return prev === undefined || last === undefined || prev === last;
}

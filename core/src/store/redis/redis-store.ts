/**
 * The Redis store backend: the {@link Store} contract on Redis 5+ (standalone, Sentinel or
 * Cluster), so several control-plane replicas can share one store.
 *
 * Reads and writes are Lua scripts (see `scripts.ts`) over the layout in `codec.ts`; watches
 * share one blocking reader (see `change-feed.ts`).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { ClosedError, InvalidArgumentError, StoreUnavailableError } from '../../errors.ts';
import { rollUp } from '../listing.ts';
import type {
  DeleteOptions,
  DeleteResult,
  Entry,
  ListOptions,
  ListResult,
  PutOptions,
  PutResult,
  Store,
  TxnOp,
  TxnOpResult,
  TxnResult,
  WatchEvent,
  WatchOptions,
} from '../types.ts';
import {
  validateKey,
  validatePrefix,
  validateSession,
  validateTxnOps,
  validateUint,
  validateValue,
} from '../validate.ts';
import { BLOCK_MS, ChangeFeed } from './change-feed.ts';
import {
  decodeEntry,
  decodeTriple,
  describeFailure,
  encodeTxnOps,
  redisKeys,
  toIndex,
} from './codec.ts';
import type { RedisKeys } from './codec.ts';
import { ConnectionState, createClient, waitUntilReady } from './redis-client.ts';
import { resolveRedisStoreOptions } from './redis-store-options.ts';
import type { RedisStoreOptions, ResolvedRedisStoreOptions } from './redis-store-options.ts';
import type { ScriptCommands } from './scripts.ts';

export type { RedisStoreOptions } from './redis-store-options.ts';
export type { RedisStoreLogger } from './redis-client.ts';
export { parseRedisUrl } from './redis-url.ts';

/** How long close() lets QUIT take before dropping the connection. */
const QUIT_TIMEOUT_MS = 1_000;

/** Why one op of a transaction did not hold, as the script reports it. */
interface ScriptFailure {
  opIndex: number;
  kind: string;
  current: Entry | null;
}

/** What one run of the transaction script came back with. */
type ScriptOutcome =
  | { ok: true; index: number; results: unknown[]; wrote: boolean }
  | { ok: false; failures: ScriptFailure[] };

/**
 * Connect, check the namespace's change log, and start the shared watch reader.
 *
 * @throws ConfigError for a bad URL or option; StoreUnavailableError if Redis cannot be
 *   reached within `connectTimeoutMs`.
 */
export async function openRedisStore(options: RedisStoreOptions): Promise<RedisStore> {
  const resolved = resolveRedisStoreOptions(options);
  const { connection, logger } = resolved;
  const tuning = {
    connectTimeoutMs: resolved.connectTimeoutMs,
    commandTimeoutMs: resolved.commandTimeoutMs,
  };
  const commands = new ConnectionState(
    createClient(connection, tuning, 'causeway-store'),
    connection.address,
    'commands',
    logger,
  );
  // The reader parks in XREAD BLOCK, so its command timeout must outlast one block.
  const readerTuning = { ...tuning, commandTimeoutMs: BLOCK_MS + resolved.commandTimeoutMs };
  const reader = new ConnectionState(
    createClient(connection, readerTuning, 'causeway-store-watch'),
    connection.address,
    'watch',
    logger,
  );
  const feed = new ChangeFeed(redisKeys(resolved.namespace), commands, reader, logger);
  const { connectTimeoutMs } = resolved;
  const deadline = Date.now() + connectTimeoutMs;
  try {
    await Promise.all([
      waitUntilReady(commands, connectTimeoutMs),
      waitUntilReady(reader, connectTimeoutMs),
    ]);
    // The first probe runs on the reader, whose command timeout allows for a whole XREAD
    // block; opening as a whole is bounded by connectTimeoutMs, as documented.
    await beforeDeadline(
      feed.start(),
      deadline - Date.now(),
      () =>
        new StoreUnavailableError(
          `redis at ${connection.address} did not answer within ${connectTimeoutMs} ms while opening the store`,
        ),
    );
    logger?.info(
      { redis: connection.address, mode: connection.mode, namespace: resolved.namespace },
      'redis store open',
    );
    return new RedisStore(resolved, commands, reader, feed);
  } catch (err) {
    feed.close();
    for (const c of [commands, reader]) {
      c.closing = true;
      c.client.disconnect();
    }
    throw commands.toStoreError(err);
  }
}

export class RedisStore implements Store {
  readonly kind = 'redis';
  private readonly keys: RedisKeys;
  private readonly scripts: ScriptCommands;
  private closing: Promise<void> | undefined;

  /** Use {@link openRedisStore}. */
  constructor(
    private readonly options: ResolvedRedisStoreOptions,
    private readonly commands: ConnectionState,
    private readonly reader: ConnectionState,
    private readonly feed: ChangeFeed,
  ) {
    this.keys = redisKeys(options.namespace);
    this.scripts = commands.client as unknown as ScriptCommands;
  }

  async get(key: string): Promise<Entry | null> {
    validateKey(key);
    const { meta, values } = this.keys;
    const reply = (await this.run(() => this.scripts.cwGetBuffer(meta, values, key))) as
      [Buffer, Buffer] | null;
    return reply === null ? null : decodeEntry(key, reply[0], reply[1]);
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    validatePrefix(prefix);
    const sep: unknown = options.separator ?? '';
    // '' is how the script is told "no separator"; as an option it is a mistake.
    if (typeof sep !== 'string' || (options.separator !== undefined && sep === '')) {
      throw new InvalidArgumentError('separator must be a non-empty string', 'separator');
    }
    const k = this.keys;
    const reply = (await this.run(() =>
      this.scripts.cwListBuffer(k.index, k.keys, k.values, k.meta, prefix, sep),
    )) as Buffer[];
    const index = toIndex(reply[0]);
    const rows: { key: string; meta: Buffer; value: Buffer }[] = [];
    for (let i = 1; i + 2 < reply.length; i += 3) {
      rows.push({ key: reply[i]!.toString(), meta: reply[i + 1]!, value: reply[i + 2]! });
    }
    const { items, prefixes } =
      sep === '' ? { items: rows, prefixes: [] } : rollUp(rows, (r) => r.key, prefix, sep);
    return { entries: items.map((r) => decodeEntry(r.key, r.meta, r.value)), prefixes, index };
  }

  async put(key: string, value: Buffer, options: PutOptions = {}): Promise<PutResult> {
    validateKey(key);
    validateValue(value);
    const { flags, cas, session, lockIndex } = options;
    if (flags !== undefined) validateUint(flags, 'flags');
    if (cas !== undefined) validateUint(cas, 'cas');
    if (lockIndex !== undefined) validateUint(lockIndex, 'lockIndex');
    validateSession(session);
    // Copy before the first await: the caller may reuse its buffer as soon as we return.
    const bytes = Buffer.from(value);
    const common = { key, value: bytes, flags, session, lockIndex };
    const op: TxnOp =
      cas === undefined ? { op: 'set', ...common } : { op: 'cas', ...common, index: cas };
    const outcome = await this.execute([op]);
    if (!outcome.ok) return { ok: false, current: outcome.failures[0]?.current ?? null };
    return { ok: true, entry: written(outcome.results[0], bytes) };
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<DeleteResult> {
    const recurse = options.recurse === true;
    if (recurse) validatePrefix(key);
    else validateKey(key);
    const { cas } = options;
    if (cas !== undefined) {
      if (recurse) throw new InvalidArgumentError('cas cannot be combined with recurse', 'cas');
      validateUint(cas, 'cas');
    }
    const op: TxnOp = recurse
      ? { op: 'delete-tree', key }
      : cas === undefined
        ? { op: 'delete', key }
        : { op: 'delete-cas', key, index: cas };
    const outcome = await this.execute([op]);
    if (!outcome.ok) return { ok: false, deleted: 0 };
    return { ok: true, deleted: Number(outcome.results[0]) };
  }

  async txn(ops: TxnOp[]): Promise<TxnResult> {
    const owned = validateTxnOps(ops).map((op) =>
      op.op === 'set' || op.op === 'cas' ? { ...op, value: Buffer.from(op.value) } : op,
    );
    if (owned.length === 0) return { ok: true, results: [], index: await this.currentIndex() };
    const outcome = await this.execute(owned);
    if (!outcome.ok) {
      const errors = outcome.failures.map(({ opIndex, kind, current }) => ({
        opIndex,
        what: describeFailure(kind, owned[opIndex]!, current),
      }));
      return { ok: false, errors };
    }
    const results = owned.map((op, i): TxnOpResult => {
      const raw = outcome.results[i];
      if (op.op === 'get') return decodeTriple(raw);
      if (op.op === 'get-tree') return (raw as unknown[]).map(decodeTriple);
      if (op.op === 'set' || op.op === 'cas') return written(raw, op.value);
      return null;
    });
    return { ok: true, results, index: outcome.index };
  }

  async currentIndex(): Promise<number> {
    const raw = await this.run(() => this.commands.client.get(this.keys.index));
    return raw === null ? 0 : toIndex(raw);
  }

  watch(
    prefix: string,
    fromIndex: number,
    options: WatchOptions = {},
  ): AsyncIterableIterator<WatchEvent> {
    validatePrefix(prefix);
    validateUint(fromIndex, 'fromIndex');
    if (this.closing !== undefined) throw new ClosedError('redis store');
    return this.feed.watch(fromIndex, { prefix, exact: options.exact, signal: options.signal });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.feed.close();
    this.reader.closing = true;
    this.reader.client.disconnect();
    await this.feed.stopped();
    this.commands.closing = true;
    // QUIT lets replies already on the wire arrive; if Redis is away (or a cluster has no
    // node to send it to), drop the socket rather than wait for it.
    const client = this.commands.client;
    const quit = client.quit().then(
      () => true,
      () => false,
    );
    if (!(await Promise.race([quit, delay(QUIT_TIMEOUT_MS, false, { ref: false })])))
      client.disconnect();
    this.options.logger?.info({ redis: this.options.connection.address }, 'redis store closed');
  }

  /** Run the transaction script, then wait for replicas if the options ask for it. */
  private async execute(ops: TxnOp[]): Promise<ScriptOutcome> {
    const k = this.keys;
    const args = [
      ...[k.index, k.keys, k.values, k.meta, k.log, k.epoch],
      randomUUID(),
      String(this.options.historyLimit),
      ...encodeTxnOps(ops),
    ];
    const reply = (await this.run(() => this.scripts.cwTxnBuffer(...args))) as unknown[];
    if (Number(reply[0]) !== 1) {
      const failures = (reply[1] as [unknown, Buffer, unknown][]).map(
        ([opIndex, kind, current]): ScriptFailure => ({
          opIndex: Number(opIndex),
          kind: kind.toString(),
          current: current === null ? null : decodeTriple(current),
        }),
      );
      return { ok: false, failures };
    }
    const outcome = {
      ok: true as const,
      index: toIndex(reply[1]),
      results: reply[2] as unknown[],
      wrote: Number(reply[3]) === 1,
    };
    if (outcome.wrote && this.options.replicas > 0) await this.awaitReplicas(outcome.index);
    return outcome;
  }

  /**
   * WAIT for replicas after a write, so an acknowledged write survives a failover. It goes
   * in a pipeline behind a command on one of our keys, which routes it to the right node
   * in a cluster (WAIT itself names no key).
   */
  private async awaitReplicas(index: number): Promise<void> {
    const { replicas, replicaTimeoutMs } = this.options;
    const replies = await this.run(() =>
      this.commands.client
        .pipeline()
        .exists(this.keys.index)
        .wait(replicas, replicaTimeoutMs)
        .exec(),
    );
    const [err, acked] = replies?.[1] ?? [new Error('no reply to WAIT'), 0];
    if (err) throw this.commands.toStoreError(err);
    if (Number(acked) < replicas) {
      throw new StoreUnavailableError(
        `the write at index ${index} reached ${Number(acked)} of ${replicas} replicas within ` +
          `${replicaTimeoutMs} ms; it is applied on the primary but could be lost in a failover`,
      );
    }
  }

  private async run<T>(command: () => Promise<T>): Promise<T> {
    if (this.closing !== undefined) throw new ClosedError('redis store');
    try {
      return await command();
    } catch (err) {
      // A call cut off by close() reports the close, not a Redis outage.
      if (this.closing !== undefined) throw new ClosedError('redis store');
      throw this.commands.toStoreError(err);
    }
  }
}

/** The entry a set or cas wrote: its metadata from the script, its value from the caller. */
function written(raw: unknown, value: Buffer): Entry {
  const [key, meta] = raw as [Buffer, Buffer];
  return { ...decodeEntry(key.toString(), meta, Buffer.alloc(0)), value };
}

/** `promise`, or a rejection with `timeout()` once `ms` have passed. */
async function beforeDeadline<T>(
  promise: Promise<T>,
  ms: number,
  timeout: () => Error,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeout()), Math.max(ms, 0));
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

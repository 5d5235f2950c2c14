/**
 * ioredis clients configured for the store: fail fast while Redis is away, reconnect in the
 * background, and turn every client-level failure into a typed Causeway error whose message
 * names the server (never its password).
 */
import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import { CausewayError, StoreUnavailableError } from '../../errors.ts';
import type { RedisConnectionSpec } from './redis-url.ts';
import { storeScripts } from './scripts.ts';

export type RedisClient = Redis | Cluster;

/** The subset of a pino logger the Redis store uses. */
export interface RedisStoreLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ClientTuning {
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

/** Reconnect backoff: 50 ms doubling per attempt, capped at 2 s. */
export function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.max(0, attempt - 1), 2_000);
}

/**
 * Options shared by both connections. `maxRetriesPerRequest: 0` makes a command that is
 * queued or in flight when the connection drops fail at once with a retryable error rather
 * than wait out an outage; `autoResendUnfulfilledCommands: false` because re-sending a
 * write script whose reply was lost could apply it twice. RESP2 because the scripts' reply
 * shapes (Lua false → nil) are RESP2's and nothing here needs RESP3.
 */
function commonOptions(tuning: ClientTuning, name: string): RedisOptions {
  return {
    lazyConnect: true,
    protocol: 2,
    connectTimeout: tuning.connectTimeoutMs,
    commandTimeout: tuning.commandTimeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: true,
    autoResendUnfulfilledCommands: false,
    connectionName: name,
    // How long a disconnect waits for the socket to end gracefully; ioredis's 2 s default
    // would keep a process alive that long after close() when Redis is already gone.
    disconnectTimeout: 500,
    scripts: storeScripts,
  };
}

/** A client for `spec`, not yet connected (see {@link waitUntilReady}). */
export function createClient(
  spec: RedisConnectionSpec,
  tuning: ClientTuning,
  name: string,
): RedisClient {
  const common = commonOptions(tuning, name);
  if (spec.mode === 'cluster') {
    const { lazyConnect, scripts, enableOfflineQueue, ...perNode } = common;
    const options: ClusterOptions = {
      ...spec.options,
      lazyConnect,
      scripts,
      enableOfflineQueue,
      clusterRetryStrategy: reconnectDelay,
      redisOptions: { ...spec.options.redisOptions, ...perNode },
    };
    return new Cluster(spec.nodes, options);
  }
  return new Redis({ ...spec.options, ...common, retryStrategy: reconnectDelay });
}

/**
 * Tracks a client's health for error messages and logs: the last connection error, and one
 * warning when a working connection is lost (not one per reconnect attempt).
 */
export class ConnectionState {
  lastError: Error | undefined;
  private healthy = false;
  private lost = false;
  /** Set before an intentional disconnect so it is not reported as a failure. */
  closing = false;

  constructor(
    readonly client: RedisClient,
    readonly address: string,
    private readonly role: string,
    private readonly logger: RedisStoreLogger | undefined,
  ) {
    client.on('ready', () => {
      this.healthy = true;
      if (this.lost) this.logger?.info({ redis: address, role }, 'reconnected to redis');
      this.lost = false;
    });
    client.on('error', (err: Error) => {
      this.lastError = err;
      this.markLost(err.message);
    });
    client.on('close', () => this.markLost('connection closed'));
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  private markLost(reason: string): void {
    if (!this.healthy || this.closing) return;
    this.healthy = false;
    this.lost = true;
    this.logger?.warn(
      { redis: this.address, role: this.role, reason },
      'lost the connection to redis; reconnecting',
    );
  }

  /** Map anything a command rejected with to a typed error. */
  toStoreError(err: unknown): Error {
    if (err instanceof CausewayError) return err;
    const e = err instanceof Error ? err : new Error(String(err));
    if (e.name === 'ReplyError') {
      const code = e.message.split(' ', 1)[0] ?? '';
      if (transientReplies.has(code)) {
        return new StoreUnavailableError(
          `redis at ${this.address} cannot serve requests right now: ${e.message}`,
          e,
        );
      }
      return new CausewayError(
        'CW_ERR_INTERNAL',
        `redis at ${this.address} rejected a store command: ${e.message}`,
        { cause: e },
      );
    }
    if (this.ready) {
      return new StoreUnavailableError(`redis at ${this.address} failed: ${e.message}`, e);
    }
    const reason = this.lastError?.message ?? e.message;
    return new StoreUnavailableError(`redis at ${this.address} is unreachable: ${reason}`, e);
  }
}

/** Server replies that mean "not now" (loading, failover, cluster resharding, busy script). */
const transientReplies = new Set([
  'LOADING',
  'READONLY',
  'MASTERDOWN',
  'CLUSTERDOWN',
  'TRYAGAIN',
  'BUSY',
  'NOREPLICAS',
]);

/**
 * Connect and wait for the client to be ready, or give up after `timeoutMs` (disconnecting
 * it) with a StoreUnavailableError carrying the last connection error.
 */
export async function waitUntilReady(state: ConnectionState, timeoutMs: number): Promise<void> {
  const { client } = state;
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
      if (err === undefined) {
        resolve();
        return;
      }
      state.closing = true;
      client.disconnect();
      reject(err);
    };
    const unreachable = (detail: string): StoreUnavailableError =>
      new StoreUnavailableError(
        `redis at ${state.address} is unreachable: ${state.lastError?.message ?? 'no answer'} ${detail}`,
        state.lastError,
      );
    const onReady = (): void => finish();
    const onEnd = (): void => finish(unreachable('(gave up connecting)'));
    const timer = setTimeout(
      () => finish(unreachable(`(gave up after ${timeoutMs} ms)`)),
      timeoutMs,
    );
    client.once('ready', onReady);
    client.once('end', onEnd);
    // The promise also rejects on the first failed attempt; retries continue regardless,
    // and the timer above decides when to stop.
    client.connect().catch(() => undefined);
  });
}

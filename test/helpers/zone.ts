/**
 * Start a real zone control plane in this process for a test: real HTTP listener on a
 * free 127.0.0.1 port, real store (embedded in memory by default, or a Redis URL).
 */
import Consul from 'consul';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { createZone } from '../../zone-control/index.ts';
import type { Zone, ZoneOptions } from '../../zone-control/index.ts';
import { startRedis } from './redis-server.ts';
import { runInTest } from './run-in-test.ts';
import type { RedisServer } from './redis-server.ts';

/** A fixed CA sealing key for zones on Redis (32 bytes, base64). */
export const TEST_CA_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');

export interface TestZone {
  zone: Zone;
  /** `http://127.0.0.1:<port>` */
  url: string;
  host: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Start a zone (`dev: true` unless `options` say otherwise). Logs go to `logger`, silent
 * by default (`TEST_LOG_LEVEL` raises it).
 */
export async function startZone(
  options: ZoneOptions = {},
  logger: Logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
): Promise<TestZone> {
  const zone = await createZone(
    {
      name: 'test',
      dev: true,
      httpAddr: '127.0.0.1:0',
      xdsAddr: '127.0.0.1:0',
      // A shared store needs an explicit key to seal the CA's keys with.
      caEncryptionKey: /^redis/.test(options.store ?? '') ? TEST_CA_ENCRYPTION_KEY : undefined,
      ...options,
    },
    logger,
  );
  // A component that fails at start (a bad CA key, say) ends the run before the API serves.
  const run = await runInTest(zone.components(), logger, () => zone.http.ready(), 'the zone');
  const { port } = zone.http.address();
  return {
    zone,
    url: `http://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    stop: () => run.stop(),
  };
}

export const BACKENDS = ['embedded', 'redis'] as const;
export type Backend = (typeof BACKENDS)[number];

/** What a {@link forEachBackend} body reads inside its hooks and tests (not while declaring). */
export interface ZoneTestEnv {
  readonly backend: Backend;
  /** The zone, started in `before`. */
  readonly zone: TestZone;
  /** A consul client on the zone. */
  readonly consul: Consul;
  /** The Redis the zone stores into on the `redis` backend; undefined on `embedded`. */
  readonly redis: RedisServer | undefined;
}

/**
 * `describe(`${title} on <backend> (integration)`)` once per backend, starting a Redis (on
 * `redis`) and a zone on it before the body's own hooks and tests, and stopping both after.
 * `options` (or a function giving them, called in `before`) go to {@link startZone}; the
 * store is the Redis on the `redis` backend.
 */
export function forEachBackend(title: string, body: (env: ZoneTestEnv) => void): void;
export function forEachBackend(
  title: string,
  options: ZoneOptions | (() => ZoneOptions),
  body: (env: ZoneTestEnv) => void,
): void;
export function forEachBackend(
  title: string,
  ...args:
    | [body: (env: ZoneTestEnv) => void]
    | [options: ZoneOptions | (() => ZoneOptions), body: (env: ZoneTestEnv) => void]
): void {
  const [options, body] = args.length === 1 ? [{}, args[0]] : args;
  for (const backend of BACKENDS) {
    describe(`${title} on ${backend} (integration)`, function () {
      let redis: RedisServer | undefined;
      let zone: TestZone | undefined;
      let consul: Consul | undefined;

      before(async function () {
        if (backend === 'redis') redis = await startRedis();
        const opts = typeof options === 'function' ? options() : options;
        zone = await startZone({ ...opts, store: redis?.url ?? opts.store });
        consul = new Consul({ host: zone.host, port: zone.port });
      });
      after(async function () {
        await zone?.stop();
        await redis?.stop();
      });

      const started = <T>(value: T | undefined): T => {
        if (value === undefined) {
          throw new Error('the zone is not started yet: read env in a hook or a test');
        }
        return value;
      };
      body({
        backend,
        get zone() {
          return started(zone);
        },
        get consul() {
          return started(consul);
        },
        get redis() {
          return redis;
        },
      });
    });
  }
}

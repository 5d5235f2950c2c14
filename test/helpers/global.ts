/**
 * Start a real global control plane in this process for a test: real HTTP listener on a
 * free 127.0.0.1 port, real store (embedded in memory by default, or a Redis URL).
 */
import { pino } from 'pino';
import type { Logger } from 'pino';
import { createGlobal } from '../../global-control/index.ts';
import type { Global, GlobalOptions } from '../../global-control/index.ts';
import { startRedis } from './redis-server.ts';
import type { RedisServer } from './redis-server.ts';
import { runInTest } from './run-in-test.ts';
import { TEST_CA_ENCRYPTION_KEY } from './zone.ts';

/** The admin token `startGlobal` gives a global started without `dev` (unless told otherwise). */
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestGlobal {
  global: Global;
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** The admin token requests need (undefined in dev mode or a generated token). */
  adminToken: string | undefined;
  /** `fetch` on the API with the admin token (when there is one) and a JSON body. */
  api(
    path: string,
    init?: { method?: string; body?: unknown; token?: string | null },
  ): Promise<Response>;
  stop(): Promise<void>;
}

/**
 * Start a global (`dev: true` unless `options` say otherwise; without dev, the admin token
 * is {@link TEST_ADMIN_TOKEN} unless `options` give one, a file, or `adminToken: undefined`
 * to have the global generate one). Logs go to `logger`,
 * silent by default (`TEST_LOG_LEVEL` raises it).
 */
export async function startGlobal(
  options: GlobalOptions = {},
  logger: Logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
): Promise<TestGlobal> {
  const dev = options.dev ?? true;
  // `adminToken: undefined` given explicitly means "no token": the global generates one.
  const adminToken =
    dev || options.adminTokenFile !== undefined || Object.hasOwn(options, 'adminToken')
      ? options.adminToken
      : TEST_ADMIN_TOKEN;
  const global = await createGlobal(
    {
      httpAddr: '127.0.0.1:0',
      syncAddr: '127.0.0.1:0',
      // A shared store needs an explicit key to seal the CA's keys with.
      caEncryptionKey: /^redis/.test(options.store ?? '') ? TEST_CA_ENCRYPTION_KEY : undefined,
      ...options,
      dev,
      adminToken,
    },
    logger,
  );
  const run = await runInTest(global.components(), logger, () => global.http.ready(), 'the global');
  const { port } = global.http.address();
  const url = `http://127.0.0.1:${port}`;
  return {
    global,
    url,
    port,
    adminToken,
    api(path, init = {}) {
      const token = init.token === null ? undefined : (init.token ?? adminToken);
      return fetch(`${url}${path}`, {
        method: init.method ?? 'GET',
        headers: {
          ...(init.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...(token !== undefined ? { Authorization: `Bearer ${token}` } : {}),
        },
        ...(init.body !== undefined
          ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }
          : {}),
      });
    },
    stop: () => run.stop(),
  };
}

export const GLOBAL_BACKENDS = ['embedded', 'redis'] as const;
export type GlobalBackend = (typeof GLOBAL_BACKENDS)[number];

/** What a {@link forEachGlobalBackend} body reads inside its hooks and tests. */
export interface GlobalTestEnv {
  readonly backend: GlobalBackend;
  /** The global, started in `before`. */
  readonly global: TestGlobal;
  /** The Redis the global stores into on the `redis` backend; undefined on `embedded`. */
  readonly redis: RedisServer | undefined;
}

/**
 * `describe(`${title} on <backend> (integration)`)` once per backend, starting a Redis (on
 * `redis`) and a global on it before the body's own hooks and tests, stopping both after.
 */
export function forEachGlobalBackend(
  title: string,
  options: GlobalOptions,
  body: (env: GlobalTestEnv) => void,
): void {
  for (const backend of GLOBAL_BACKENDS) {
    describe(`${title} on ${backend} (integration)`, function () {
      let redis: RedisServer | undefined;
      let global: TestGlobal | undefined;
      before(async function () {
        if (backend === 'redis') redis = await startRedis();
        global = await startGlobal({ ...options, store: redis?.url ?? options.store });
      });
      after(async function () {
        await global?.stop();
        await redis?.stop();
      });
      body({
        backend,
        get global() {
          if (global === undefined) throw new Error('the global is not started yet');
          return global;
        },
        get redis() {
          return redis;
        },
      });
    });
  }
}

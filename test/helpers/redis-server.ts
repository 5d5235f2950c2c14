/**
 * A real `redis-server` per test file, on a free port with its own temp dir, so Redis tests
 * never touch a developer's Redis on 6379 and can restart or kill the server to drill
 * failure recovery.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

export interface StartRedisOptions {
  /**
   * Keep data across restarts with the append-only file (fsync on every write, so even
   * `kill()` loses nothing). Without it a restart comes back empty.
   * @default false
   */
  persistence?: boolean;
  /** Port to listen on. @default a free port picked by the OS */
  port?: number;
  /**
   * Run as a one-node Redis Cluster that owns all 16384 slots, to exercise the cluster
   * client (routing, MOVED handling, hash tags) without six processes.
   * @default false
   */
  cluster?: boolean;
}

export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** The server's working dir (append-only file, log); removed by `stop()`. */
  readonly dir: string;
  /** Stop the server (SIGTERM) and remove its dir. Idempotent. */
  stop(): Promise<void>;
  /** Stop gracefully (if running) and start again on the same port and dir. */
  restart(): Promise<void>;
  /** SIGKILL, as a crash would; the dir is kept so `restart()` can follow. */
  kill(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;
const running = new Set<ChildProcess>();

// A test that fails half-way must not leave servers behind after mocha exits.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Start a `redis-server` and wait until it answers PING. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  assertInstalled();
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'causeway-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    options.persistence === true ? 'yes' : 'no',
    '--appendfsync',
    'always',
    '--dir',
    dir,
    '--logfile',
    join(dir, 'redis.log'),
    // A lone node does not know its own address until it meets a peer; CLUSTER SLOTS would
    // then name no host, and clients could not route to it.
    ...(options.cluster === true
      ? ['--cluster-enabled', 'yes', '--cluster-announce-ip', '127.0.0.1']
      : []),
  ];
  let child: ChildProcess | undefined = await launch(args, port, dir);
  if (options.cluster === true) await claimAllSlots(port);
  let removed = false;

  async function halt(signal: NodeJS.Signals): Promise<void> {
    const c = child;
    child = undefined;
    if (c) await terminate(c, signal);
  }

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async stop() {
      await halt('SIGTERM');
      if (!removed) {
        removed = true;
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async restart() {
      if (removed) throw new Error('redis-server was stopped; start a new one');
      await halt('SIGTERM');
      child = await launch(args, port, dir);
    },
    async kill() {
      await halt('SIGKILL');
    },
  };
}

export interface SentinelServer {
  readonly port: number;
  /** `redis-sentinel://127.0.0.1:<port>/<masterName>` */
  readonly url: string;
  stop(): Promise<void>;
}

/** Start a `redis-server --sentinel` watching `master` under `masterName` (quorum 1). */
export async function startSentinel(
  master: RedisServer,
  masterName = 'mymaster',
): Promise<SentinelServer> {
  assertInstalled();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'causeway-sentinel-'));
  // Sentinel rewrites its config file, so it must be a writable file of its own.
  const config = join(dir, 'sentinel.conf');
  writeFileSync(
    config,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `logfile ${join(dir, 'redis.log')}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 1`,
      '',
    ].join('\n'),
  );
  const child = await launch([config, '--sentinel'], port, dir);
  return {
    port,
    url: `redis-sentinel://127.0.0.1:${port}/${masterName}`,
    async stop() {
      await terminate(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Give the (only) cluster node every slot and wait for the cluster to report ok. */
async function claimAllSlots(port: number): Promise<void> {
  const cli = (...args: string[]): string =>
    spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout;
  const slots = Array.from({ length: 16384 }, (_, i) => String(i));
  const reply = cli('CLUSTER', 'ADDSLOTS', ...slots).trim();
  if (reply !== 'OK') throw new Error(`CLUSTER ADDSLOTS on port ${port} answered ${reply}`);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!cli('CLUSTER', 'INFO').includes('cluster_state:ok')) {
    if (Date.now() > deadline) throw new Error(`cluster on port ${port} never became ok`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function assertInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(
      'redis-server is not installed (or not on PATH); the Redis tests need a real server. ' +
        'Install it with: apt-get install -y redis-server',
    );
  }
}

/** Bind port 0, note the port the OS picked, and release it for redis-server. */
async function launch(args: string[], port: number, dir: string): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (await answersPing(port)) return child;
    await new Promise((r) => setTimeout(r, 25));
  }
  await terminate(child, 'SIGKILL');
  throw new Error(
    `redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms; ` +
      `log tail:\n${logTail(dir)}`,
  );
}

/** True once the server replies `+PONG` (not while it is still loading the AOF). */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.once('connect', () => socket.write('PING\r\n'));
  });
}

async function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function logTail(dir: string): string {
  try {
    return readFileSync(join(dir, 'redis.log'), 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

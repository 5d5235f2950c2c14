/**
 * `causeway run proxy` as a real child process, for tests about processes: it is started
 * with the given flags, and is ready to use once its admin API logs the address it bound
 * (`--admin-addr 127.0.0.1:0` picks a free port).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { eventually, withTimeout } from './async.ts';
import { childEnv } from './child-env.ts';

const bin = fileURLToPath(new URL('../../cli/bin/causeway.js', import.meta.url));

export interface ProxyProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string;
  adminPort: number;
  adminUrl: string;
}

/** Start `causeway run proxy ...args` and wait for its admin API. */
export async function runProxy(
  args: string[],
  env: Record<string, string> = {},
): Promise<ProxyProcess> {
  const child = spawn(process.execPath, [bin, 'run', 'proxy', ...args], {
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const adminPort = await eventually(
    () => {
      if (child.exitCode !== null) throw new Error(`the proxy exited early:\n${out}`);
      const m = /"addr":"127\.0\.0\.1:(\d+)","msg":"admin API listening"/.exec(out);
      return m ? Number(m[1]) : undefined;
    },
    'the admin API to listen',
    20_000,
  );
  return { child, output: () => out, adminPort, adminUrl: `http://127.0.0.1:${adminPort}` };
}

/** SIGTERM, then the exit code. */
export async function stopProxy(proxy: ProxyProcess): Promise<number | null> {
  if (proxy.child.exitCode !== null) return proxy.child.exitCode;
  const exit = once(proxy.child, 'exit');
  proxy.child.kill('SIGTERM');
  const [code] = (await withTimeout(exit, 20_000, 'the proxy to exit')) as [number | null];
  return code;
}

/** Wait until `/ready` answers 200. */
export async function proxyReady(proxy: ProxyProcess, timeoutMs = 20_000): Promise<void> {
  await eventually(
    async () => {
      if (proxy.child.exitCode !== null) {
        throw new Error(`the proxy exited:\n${proxy.output()}`);
      }
      const res = await fetch(`${proxy.adminUrl}/ready`).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    },
    'the proxy to be ready',
    timeoutMs,
    100,
  );
}

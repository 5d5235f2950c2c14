/**
 * Start `causeway run zone --dev` as a child process on a free port, the way an operator
 * would, for benchmarks that compare the zone's HTTP API with another server.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { freePort } from './etcd-server.ts';

export interface ZoneProcess {
  host: string;
  port: number;
  stop(): Promise<void>;
}

export async function startZoneProcess(extraArgs: string[] = []): Promise<ZoneProcess> {
  const port = await freePort();
  const bin = path.resolve('cli/bin/causeway.js');
  const child = spawn(
    process.execPath,
    [
      bin,
      '--log-level',
      'warn',
      'run',
      'zone',
      '--dev',
      '--name',
      'bench',
      '--http-addr',
      `127.0.0.1:${port}`,
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v1/status/leader`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`zone did not start: ${stderr.slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host: '127.0.0.1',
    port,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

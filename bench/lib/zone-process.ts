/**
 * Start `causeway run zone --dev` as a child process on a free port, the way an operator
 * would, for benchmarks that compare the zone's HTTP API with another server.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { freePort, stopChild, waitUntilServing } from './child-server.ts';

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
  await waitUntilServing(child, `http://127.0.0.1:${port}/v1/status/leader`, 'zone');
  return {
    host: '127.0.0.1',
    port,
    async stop() {
      await stopChild(child);
    },
  };
}

/**
 * Start a throwaway single-member etcd (Debian's `etcd-server`, v3.4) on free 127.0.0.1
 * ports in a temp dir, for benchmarks that compare against it. Installs the package with
 * apt when it is missing and the user is root; otherwise says how.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, stopChild, waitUntilServing } from './child-server.ts';

export interface EtcdServer {
  host: string;
  port: number;
  stop(): Promise<void>;
}

function haveEtcd(): boolean {
  try {
    execFileSync('etcd', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function ensureEtcdInstalled(): void {
  if (haveEtcd()) return;
  if (process.getuid?.() !== 0) {
    throw new Error('etcd is not installed: run `apt-get install -y etcd-server` and try again');
  }
  console.error('etcd missing: installing etcd-server with apt-get');
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', 'etcd-server'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

export async function startEtcd(): Promise<EtcdServer> {
  ensureEtcdInstalled();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cw-etcd-'));
  const port = await freePort();
  const peer = await freePort();
  const client = `http://127.0.0.1:${port}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const child = spawn(
    'etcd',
    [
      '--name=bench',
      `--data-dir=${dir}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=bench=${peerUrl}`,
      '--log-level=error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await waitUntilServing(child, `${client}/health`, 'etcd', 15_000);
  return {
    host: '127.0.0.1',
    port,
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A global control plane and two zones as child processes (`causeway run global|zone
 * --dev`, embedded store in a temp dir), joined the way `causeway dev` joins them
 * (`cli/src/dev/dev-mesh.ts`): create each zone at global, write its token to a file,
 * start the zone with it, wait until it has joined. Each is its own process, so its
 * memory can be read from /proc.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './child-server.ts';
import { ProcessGroup } from './process-group.ts';
import type { Started } from './process-group.ts';

const BIN = path.resolve('cli/bin/causeway.js');

export interface MeshZone {
  name: string;
  url: string;
  xdsPort: number;
  process: Started;
}

export interface SyncMesh {
  dir: string;
  globalUrl: string;
  global: Started;
  zones: MeshZone[];
  group: ProcessGroup;
  stop(): Promise<void>;
}

export async function request(
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method,
    signal: AbortSignal.timeout(10_000),
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return { status: res.status, text: await res.text() };
}

/** `request`, failing unless the status is 2xx. */
export async function ok(method: string, url: string, body?: unknown): Promise<string> {
  const res = await request(method, url, body);
  if (res.status < 200 || res.status > 299)
    throw new Error(`${method} ${url}: ${res.status} ${res.text}`);
  return res.text;
}

async function until(what: string, started: Started, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not listening yet
    }
    if (started.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`waiting for ${what} failed; its output:\n${started.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface SyncMeshOptions {
  /** Extra `causeway run zone` arguments for every zone. */
  zoneArgs?: string[];
  /** Extra Node arguments per zone name (e.g. `--cpu-prof`). */
  nodeArgs?: Record<string, string[]>;
  log?: (line: string) => void;
}

/** Start global and the zones named, each zone joined to global. */
export async function startSyncMesh(
  zoneNames: string[],
  options: SyncMeshOptions = {},
): Promise<SyncMesh> {
  const { zoneArgs = [], nodeArgs = {}, log = () => undefined } = options;
  const dir = await mkdtemp(path.join(tmpdir(), 'causeway-bench-sync-'));
  const group = new ProcessGroup();
  group.hookSignals(log);
  group.onSignalCleanup(() => rm(dir, { recursive: true, force: true }));
  const run = (name: string, node: string[], ...args: string[]): Started =>
    group.spawn(name, process.execPath, [...node, BIN, '--log-level', 'warn', 'run', ...args]);
  const stop = async (): Promise<void> => {
    await group.stopAll();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const [http, sync] = [await freePort(), await freePort()];
    const globalUrl = `http://127.0.0.1:${http}`;
    const global = run(
      'global',
      [],
      'global',
      '--dev',
      '--data-dir',
      path.join(dir, 'global'),
      '--http-addr',
      `127.0.0.1:${http}`,
      '--sync-addr',
      `127.0.0.1:${sync}`,
    );
    await until(
      'global',
      global,
      async () => (await request('GET', `${globalUrl}/api/health`)).status === 200,
    );
    const zones: MeshZone[] = [];
    for (const name of zoneNames) {
      const created = await ok('POST', `${globalUrl}/api/zones`, { name, kind: 'universal' });
      const tokenFile = path.join(dir, `${name}.token`);
      await writeFile(tokenFile, (JSON.parse(created) as { token: string }).token, { mode: 0o600 });
      const [zoneHttp, xds] = [await freePort(), await freePort()];
      log(`zone ${name}: http 127.0.0.1:${zoneHttp}, proxy stream 127.0.0.1:${xds}`);
      const started = run(
        `zone-${name}`,
        nodeArgs[name] ?? [],
        'zone',
        '--dev',
        '--name',
        name,
        '--data-dir',
        path.join(dir, name),
        '--http-addr',
        `127.0.0.1:${zoneHttp}`,
        '--xds-addr',
        `127.0.0.1:${xds}`,
        '--global-addr',
        `wss://127.0.0.1:${sync}`,
        '--zone-token-file',
        tokenFile,
        ...zoneArgs,
      );
      zones.push({ name, url: `http://127.0.0.1:${zoneHttp}`, xdsPort: xds, process: started });
    }
    for (const z of zones) {
      await until(
        `zone ${z.name} to join global`,
        z.process,
        async () => (await request('GET', `${z.url}/v1/status/leader`)).status === 200,
      );
    }
    return { dir, globalUrl, global, zones, group, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Resident set size of a process in KiB (`VmRSS` in /proc/<pid>/status; Linux only). */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m?.[1]) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

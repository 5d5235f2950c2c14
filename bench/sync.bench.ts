/**
 * `npm run bench:sync`: how fast an endpoint change in one zone reaches every proxy of
 * another, and what a connected proxy costs its zone control plane (issue 6, item 9).
 *
 * - A global control plane and zones `a` and `b` run as child processes (`causeway run
 *   global|zone --dev`, embedded store on disk), joined with zone tokens. Zone `a` runs
 *   three `api` instances (agent API, each with a TTL check) and exports `api` to every
 *   zone; zone `b` has one gateway instance in its catalog, so its proxies get an `api`
 *   endpoint for zone `a` whose weight is `a`'s healthy count.
 * - N simulated proxies (`bench/lib/sim-proxy.ts`, the real stream protocol over TLS) of a
 *   service `web` with upstream `api` connect to zone `b`, spread over a few client
 *   processes. They share one EC key and CSR (the zone signs a leaf per proxy all the
 *   same); each ACKs every push at once.
 * - Zone `b`'s resident memory (VmRSS from /proc) is read before and after they connect.
 * - K times, one of `a`'s instances has its TTL check failed or passed again
 *   (`PUT /v1/agent/check/fail|pass`); the latency of a change is from the response to that
 *   request until the last of the N proxies has ACKed a config showing the new weight.
 *   Breakdown: until zone `b` stored the new `remote-service` (its `receivedAt` in
 *   `/api/federation`, ms resolution: a → global → b), until the first proxy had it (plus
 *   b's debounce and rebuild), until the last (fan-out to all N).
 *
 * Env: BENCH_PROXIES (default 1000), BENCH_CHANGES (30), BENCH_CLIENT_PROCS (2),
 * BENCH_GAP_MS (300, pause between changes), BENCH_CPU_PROF=<dir> to profile zone b
 * (`node --cpu-prof`) and print its busiest functions while the changes ran (not while
 * starting and connecting), BENCH_ZONE_ARGS to pass both zones more `causeway run zone`
 * arguments (`--proxy-config-debounce 20ms`), BENCH_NO_DOC=1 to leave the docs alone.
 * Rewrites the "sync" section of docs/benchmarks.md; ends with the line
 * `sync: p99 X ms, N proxies, M KiB per proxy`.
 */
import os from 'node:os';
import path from 'node:path';
import { createCsr, formatSpiffeId, generateKeyPair } from '../core/index.ts';
import { updateBenchDoc } from './lib/bench-doc.ts';
import { monotonicUs, profilesIn, topSelfTime } from './lib/cpu-profile.ts';
import type { ProfileWindow } from './lib/cpu-profile.ts';
import { fmt, percentile } from './lib/measure.ts';
import { treeCpuSeconds } from './lib/process-group.ts';
import { epochMs } from './lib/sim-proxy.ts';
import { SimProxyFleet } from './lib/sim-proxy-fleet.ts';
import { ok, rssKiB, startSyncMesh } from './lib/sync-mesh.ts';
import type { MeshZone } from './lib/sync-mesh.ts';

const PROXIES = Number(process.env.BENCH_PROXIES ?? 1000);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 30);
const CLIENT_PROCS = Number(process.env.BENCH_CLIENT_PROCS ?? 2);
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 300);
/** Profile zone b (`node --cpu-prof`) into this directory and print its hottest functions. */
const CPU_PROF = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined;
/** Extra `causeway run zone` arguments for both zones, e.g. `--proxy-config-debounce 20ms`. */
const ZONE_ARGS = (process.env.BENCH_ZONE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
const GOAL_P99_MS = 250;
const TD = 'causeway.mesh';
const API_INSTANCES = 3;
const FLIPPED_CHECK = `api-${API_INSTANCES}-ttl`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function progress(what: string): void {
  process.stderr.write(`bench:sync: ${what}\n`);
}

/** Median of a few RSS samples a little apart, after a quiet spell (GC noise). */
async function settledRss(pid: number, quietMs = 3000): Promise<number> {
  await sleep(quietMs);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rssKiB(pid));
    await sleep(200);
  }
  samples.sort((x, y) => x - y);
  return samples[2]!;
}

async function setUpZones(a: MeshZone, b: MeshZone): Promise<void> {
  await ok('PUT', `${a.url}/v1/config`, {
    Kind: 'exported-services',
    Name: 'default',
    Services: [{ Name: 'api', Consumers: [{ Zone: '*' }] }],
  });
  for (let i = 1; i <= API_INSTANCES; i++) {
    await ok('PUT', `${a.url}/v1/agent/service/register`, {
      ID: `api-${i}`,
      Name: 'api',
      Address: '127.0.0.1',
      Port: 9000 + i,
      Check: { CheckID: `api-${i}-ttl`, TTL: '1h', Status: 'passing' },
    });
  }
  // Zone b's east-west gateway, as the gateway process registers itself: proxies in b
  // reach zone a through its local listener.
  await ok('PUT', `${b.url}/v1/agent/service/register`, {
    ID: 'b-gw',
    Name: 'b-gw',
    Address: '127.0.0.1',
    Port: 15444,
    Meta: { 'causeway-kind': 'mesh-gateway', 'causeway-public-addr': '127.0.0.1:15443' },
  });
}

interface RemoteApi {
  healthy: number;
  receivedAt: string;
}

async function remoteApi(b: MeshZone): Promise<RemoteApi | undefined> {
  const body = JSON.parse(await ok('GET', `${b.url}/api/federation`)) as {
    remoteServices: (RemoteApi & { zone: string; service: string })[];
  };
  return body.remoteServices.find((s) => s.zone === 'a' && s.service === 'api');
}

async function waitForRemote(b: MeshZone, healthy: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await remoteApi(b))?.healthy !== healthy) {
    if (Date.now() > deadline) throw new Error(`zone b never saw a's api with ${healthy} healthy`);
    await sleep(100);
  }
}

interface Change {
  /** From the response at zone a to: b stored it, the first proxy ACKed it, the last did. */
  syncMs: number;
  firstMs: number;
  lastMs: number;
}

function stats(values: number[]): { p50: number; p90: number; p99: number; max: number } {
  const sorted = Float64Array.from(values).sort();
  return {
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? 0,
  };
}

async function main(): Promise<void> {
  const load = os.loadavg().map((l) => fmt(l, 2));
  const startedAt = Date.now();
  progress('starting global and zones a, b');
  const mesh = await startSyncMesh(['a', 'b'], {
    log: progress,
    zoneArgs: ZONE_ARGS,
    ...(CPU_PROF ? { nodeArgs: { b: ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] } } : {}),
  });
  const [a, b] = mesh.zones as [MeshZone, MeshZone];
  const fleet = new SimProxyFleet(CLIENT_PROCS);
  let changesWindow: ProfileWindow | undefined;
  try {
    await setUpZones(a, b);
    await waitForRemote(b, API_INSTANCES);
    const bPid = b.process.child.pid!;
    const rssBefore = await settledRss(bPid);
    const others = { global: rssKiB(mesh.global.child.pid!), a: rssKiB(a.process.child.pid!) };

    const roots = (JSON.parse(await ok('GET', `${b.url}/api/ca/bundle`)) as { roots: string[] })
      .roots;
    const keyPair = await generateKeyPair();
    const csr = createCsr({
      keyPair,
      spiffeId: formatSpiffeId({
        kind: 'workload',
        trustDomain: TD,
        zone: 'b',
        namespace: 'default',
        service: 'web',
      }),
    });
    progress(`connecting ${PROXIES} simulated proxies over ${CLIENT_PROCS} processes`);
    const connectStarted = epochMs();
    const connected = await fleet.connect(
      {
        url: `wss://127.0.0.1:${b.xdsPort}/`,
        roots,
        controlId: formatSpiffeId({ kind: 'control', trustDomain: TD, zone: 'b' }),
        service: 'web',
        csr,
        upstream: 'api',
        watch: { cluster: 'api', zone: 'a' },
      },
      PROXIES,
    );
    const connectMs = epochMs() - connectStarted;
    progress(`${connected} connected in ${fmt(connectMs / 1000, 1)} s`);
    // Every proxy must start from a's full healthy count, or a change proves nothing.
    const initial = fleet.reached(0, 30_000);
    await fleet.expect(0, API_INSTANCES);
    if (!(await initial)) throw new Error(`not every proxy has weight ${API_INSTANCES} for zone a`);
    const rssAfter = await settledRss(bPid);
    const perProxyKiB = (rssAfter - rssBefore) / connected;
    progress(`zone b RSS ${fmt(rssBefore / 1024, 1)} → ${fmt(rssAfter / 1024, 1)} MiB`);

    const cpu0 = {
      a: treeCpuSeconds(a.process.child.pid!),
      global: treeCpuSeconds(mesh.global.child.pid!),
      b: treeCpuSeconds(bPid),
      fleet: (await fleet.stats()).cpuMs,
    };
    const changes: Change[] = [];
    let missed = 0;
    const phaseStarted = epochMs();
    const phaseStartedUs = monotonicUs();
    for (let k = 1; k <= CHANGES; k++) {
      const fail = k % 2 === 1;
      const weight = fail ? API_INSTANCES - 1 : API_INSTANCES;
      // Listen before arming: a worker may answer both at once.
      const reached = fleet.reached(k, 15_000);
      await fleet.expect(k, weight);
      await ok('PUT', `${a.url}/v1/agent/check/${fail ? 'fail' : 'pass'}/${FLIPPED_CHECK}`);
      const t0 = epochMs();
      const r = await reached;
      if (!r) {
        missed++;
        progress(`change ${k}: not every proxy had it after 15 s`);
        await waitForRemote(b, weight);
        await sleep(2000);
        continue;
      }
      const stored = await remoteApi(b);
      const syncMs = stored ? Date.parse(stored.receivedAt) - t0 : Number.NaN;
      changes.push({ syncMs, firstMs: r.first - t0, lastMs: r.last - t0 });
      progress(
        `change ${k}: b stored ${fmt(syncMs)} ms, first proxy ${fmt(r.first - t0)} ms, ` +
          `last ${fmt(r.last - t0)} ms`,
      );
      await sleep(GAP_MS);
    }
    const phaseS = (epochMs() - phaseStarted) / 1000;
    changesWindow = { fromUs: phaseStartedUs, toUs: monotonicUs() };
    const fleetStats = await fleet.stats();
    const cpuPerChange = (s: number): number => (s * 1000) / CHANGES;
    const cpu = {
      a: cpuPerChange(treeCpuSeconds(a.process.child.pid!) - cpu0.a),
      global: cpuPerChange(treeCpuSeconds(mesh.global.child.pid!) - cpu0.global),
      b: cpuPerChange(treeCpuSeconds(bPid) - cpu0.b),
      fleet: (fleetStats.cpuMs - cpu0.fleet) / CHANGES,
    };

    const last = stats(changes.map((c) => c.lastMs));
    const first = stats(changes.map((c) => c.firstMs));
    const sync = stats(changes.filter((c) => !Number.isNaN(c.syncMs)).map((c) => c.syncMs));
    const fanout = stats(changes.map((c) => c.lastMs - c.firstMs));
    const row = (what: string, s: ReturnType<typeof stats>): string =>
      `| ${what} | ${fmt(s.p50)} | ${fmt(s.p90)} | ${fmt(s.p99)} | ${fmt(s.max)} |`;
    const out = [
      `${changes.length} changes (${missed} missed the 15 s limit), ${connected} proxies in zone b:`,
      '',
      '| from the response at zone a until … (ms) | p50 | p90 | p99 | max |',
      '|---|---:|---:|---:|---:|',
      row('zone b stored the change (a → global → b)', sync),
      row('the first proxy in b ACKed it', first),
      row('**the last proxy in b ACKed it**', last),
      row('fan-out: first → last proxy', fanout),
      '',
      '| memory (VmRSS) | before | after | per proxy |',
      '|---|---:|---:|---:|',
      `| zone b | ${fmt(rssBefore / 1024, 1)} MiB | ${fmt(rssAfter / 1024, 1)} MiB | ` +
        `${fmt(perProxyKiB, 1)} KiB |`,
      '',
      `Other processes: global ${fmt(others.global / 1024, 1)} MiB, zone a ` +
        `${fmt(others.a / 1024, 1)} MiB (before the proxies); the ${CLIENT_PROCS} client ` +
        `processes ${fmt(fleetStats.rssKiB / 1024, 1)} MiB together. Connecting took ` +
        `${fmt(connectMs / 1000, 1)} s. CPU per change: zone b ${fmt(cpu.b)} ms, global ` +
        `${fmt(cpu.global)} ms, zone a ${fmt(cpu.a)} ms, simulated proxies ${fmt(cpu.fleet)} ms ` +
        `(${fmt(phaseS, 1)} s for the ${CHANGES} changes, gaps included; ` +
        `${fmt(fleetStats.configs)} configs received in all).`,
    ].join('\n');
    const verdict = last.p99 < GOAL_P99_MS ? 'met' : 'not met';
    const header =
      `Command: \`npm run bench:sync\` (BENCH_PROXIES=${PROXIES}, BENCH_CHANGES=${CHANGES}, ` +
      `BENCH_CLIENT_PROCS=${CLIENT_PROCS}, BENCH_GAP_MS=${GAP_MS}; ` +
      (ZONE_ARGS.length > 0
        ? `zones run with \`${ZONE_ARGS.join(' ')}\``
        : "zones with the default proxy-config debounce, 50 ms, and 5 ms for zone sync's records") +
      `). Machine: ${os.cpus().length} cores, ` +
      `${os.cpus()[0]?.model ?? 'unknown cpu'}, load average ${load.join(' ')} at start ` +
      `(shared with other work), Node ${process.version}. Goal p99 < ${GOAL_P99_MS} ms: ` +
      `${verdict}. Run at ${new Date(startedAt).toISOString()}.`;
    const line = `sync: p99 ${fmt(last.p99)} ms, ${connected} proxies, ${fmt(perProxyKiB, 1)} KiB per proxy`;
    console.log(`${out}\n`);
    if (process.env.BENCH_NO_DOC !== '1') {
      await updateBenchDoc(
        path.resolve('docs/benchmarks.md'),
        'sync',
        `${header}\n\n${out}\n\n\`${line}\``,
      );
      progress('wrote docs/benchmarks.md (section "sync")');
    }
    console.log(line);
  } finally {
    fleet.close();
    await mesh.stop();
  }
  if (CPU_PROF) {
    process.stderr.write(
      `zone b's busiest functions during the changes (self time, ${CPU_PROF}):\n`,
    );
    for (const t of await topSelfTime(await profilesIn(CPU_PROF), 25, changesWindow)) {
      process.stderr.write(`  ${fmt(t.percent, 1)}%  ${fmt(t.ms)} ms  ${t.frame}\n`);
    }
  }
}

await main();

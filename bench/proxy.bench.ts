/**
 * `npm run bench:proxy`: the Causeway sidecar pair beside an HAProxy pair doing the same
 * job, with the same load generator, concurrency and upstream, in one run on one machine
 * (issue 5, item 11):
 *
 * - direct: wrk → app;
 * - causeway: wrk → `causeway run proxy --bootstrap client.yaml` (http outbound listener)
 *   → mTLS → `causeway run proxy --bootstrap server.yaml` (http inbound) → app;
 * - haproxy: wrk → haproxy (mode http, originates mTLS) → mTLS → haproxy (terminates
 *   mTLS, client certificate required) → app;
 * - causeway-tcp and haproxy-tcp: the same pairs at L4 (Causeway `tcp` outbound listener
 *   and `tcp` inbound, HAProxy `mode tcp` on both sides), same mTLS and certificates: an
 *   mTLS tunnel per client connection, through which wrk still speaks HTTP to the app.
 *
 * Certificates come from core's CA (root → zone intermediate → leaf per service, EC P-256).
 * Every hop keeps connections alive. For each `--workers` value, Causeway runs with
 * `--workers N` and HAProxy with `nbthread N`. Each measured wrk run follows an untimed
 * warm-up run on the same path. Besides wrk's figures, the CPU time both proxies used
 * during the measured run (from /proc) is divided by the requests served: on a machine
 * where the load generator, the app and both proxies share the cores, throughput mostly
 * follows that cost.
 *
 * Prints a table and the ratios Causeway ÷ HAProxy, rewrites the "proxy" section of
 * docs/benchmarks.md (unless --no-doc), and ends with the line
 * `proxy-vs-haproxy: rps ratio R, p99 ratio P` for the first --workers value at L7 (HTTP),
 * preceded by `proxy-vs-haproxy (tcp): rps ratio R, p99 ratio P` for L4 when measured.
 * Installs haproxy and wrk with apt-get when they are missing. `--help` lists the flags.
 */
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureTools } from './lib/apt-tools.ts';
import { updateBenchDoc } from './lib/bench-doc.ts';
import { startCausewayPair } from './lib/causeway-proxy.ts';
import { profilesIn, topSelfTime } from './lib/cpu-profile.ts';
import { startHaproxyPair } from './lib/haproxy.ts';
import { fmt } from './lib/measure.ts';
import { writeMeshCerts } from './lib/mesh-certs.ts';
import { refusesClientWithoutCertificate } from './lib/mtls-check.ts';
import { ProcessGroup, treeCpuSeconds } from './lib/process-group.ts';
import type { Started } from './lib/process-group.ts';
import { startUpstream } from './lib/upstream.ts';
import { runWrk, wrkArgs } from './lib/wrk.ts';
import type { WrkResult } from './lib/wrk.ts';

const SCENARIOS = ['direct', 'causeway', 'haproxy', 'causeway-tcp', 'haproxy-tcp'] as const;
type Scenario = (typeof SCENARIOS)[number];

/** The Causeway and HAProxy scenarios compared with each other, per protocol. */
const PAIRS = [
  { mode: 'http', causeway: 'causeway', haproxy: 'haproxy' },
  { mode: 'tcp', causeway: 'causeway-tcp', haproxy: 'haproxy-tcp' },
] as const;
type Mode = (typeof PAIRS)[number]['mode'];

const HELP = `usage: npm run bench:proxy -- [flags]

  --duration S          measured wrk run per scenario, seconds (default 10)
  --warmup S            untimed wrk run before each measured one, seconds (default 3)
  --connections N       wrk connections (default 32)
  --threads N           wrk threads (default 1)
  --workers LIST        comma-separated: Causeway --workers / HAProxy nbthread per round
                        (default 1,2); the closing ratio line is for the first value
  --rounds N            measured runs per scenario, alternating scenarios; medians are
                        reported (default 1)
  --scenarios LIST      any of direct,causeway,haproxy,causeway-tcp,haproxy-tcp (default
                        all five; the -tcp ones are the same pairs at L4)
  --upstream-processes N  processes of the Node upstream app (default 1)
  --cpu-prof DIR        run the Causeway proxies under node --cpu-prof, writing profiles
                        to DIR, and print the functions with the most self time
  --no-doc              leave docs/benchmarks.md alone (also BENCH_NO_DOC=1)
  --help
`;

interface Flags {
  durationS: number;
  warmupS: number;
  connections: number;
  threads: number;
  workers: number[];
  rounds: number;
  scenarios: Scenario[];
  upstreamProcesses: number;
  cpuProf?: string;
  doc: boolean;
}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

function parseFlags(): Flags {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      threads: { type: 'string' },
      workers: { type: 'string' },
      rounds: { type: 'string' },
      scenarios: { type: 'string' },
      'upstream-processes': { type: 'string' },
      'cpu-prof': { type: 'string' },
      'no-doc': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const workers = (values.workers ?? '1,2')
    .split(',')
    .map((w) => positiveInt(w.trim(), 'workers', 1));
  const scenarios = (values.scenarios ?? SCENARIOS.join(',')).split(',').map((s) => {
    const name = s.trim();
    if (!SCENARIOS.includes(name as Scenario)) {
      throw new Error(`--scenarios takes ${SCENARIOS.join(', ')} (got ${name})`);
    }
    return name as Scenario;
  });
  const warmup = values.warmup === '0' ? 0 : positiveInt(values.warmup, 'warmup', 3);
  return {
    durationS: positiveInt(values.duration, 'duration', 10),
    warmupS: warmup,
    connections: positiveInt(values.connections, 'connections', 32),
    threads: positiveInt(values.threads, 'threads', 1),
    workers,
    rounds: positiveInt(values.rounds, 'rounds', 1),
    scenarios,
    upstreamProcesses: positiveInt(values['upstream-processes'], 'upstream-processes', 1),
    ...(values['cpu-prof'] ? { cpuProf: path.resolve(values['cpu-prof']) } : {}),
    doc: !values['no-doc'] && process.env.BENCH_NO_DOC !== '1',
  };
}

function progress(what: string): void {
  process.stderr.write(`bench:proxy: ${what}\n`);
}

interface Target {
  scenario: Scenario;
  workers: number;
  port: number;
  /** The inbound mTLS port, checked to refuse clients without a certificate. */
  inboundPort?: number;
  /** The proxy processes whose CPU time is charged to the scenario. */
  proxies: Started[];
}

interface Run {
  wrk: WrkResult;
  proxyCpuS: number;
  upstreamCpuS: number;
}

interface Row {
  scenario: Scenario;
  workers: number;
  runs: Run[];
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Both proxies' CPU time per request, µs. */
  proxyCpuUs: number;
  upstreamCpuUs: number;
  errors: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function summarize(scenario: Scenario, workers: number, runs: Run[]): Row {
  return {
    scenario,
    workers,
    runs,
    rps: median(runs.map((r) => r.wrk.rps)),
    p50Ms: median(runs.map((r) => r.wrk.p50Ms)),
    p99Ms: median(runs.map((r) => r.wrk.p99Ms)),
    proxyCpuUs: median(runs.map((r) => (r.proxyCpuS / r.wrk.requests) * 1e6)),
    upstreamCpuUs: median(runs.map((r) => (r.upstreamCpuS / r.wrk.requests) * 1e6)),
    errors: runs.reduce((sum, r) => sum + r.wrk.socketErrors + r.wrk.non2xx, 0),
  };
}

/** One request through the path must come back 200 with the app's body. */
async function checkPath(target: Target, expectedBody: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${target.port}/check`);
  const body = await res.text();
  if (res.status !== 200 || body !== expectedBody) {
    throw new Error(
      `${target.scenario} (workers ${target.workers}) answered ${res.status}: ${body.slice(0, 300)}`,
    );
  }
}

const cpuOf = (processes: Started[]): number =>
  processes.reduce((sum, p) => sum + (p.child.pid ? treeCpuSeconds(p.child.pid) : 0), 0);

async function measureTarget(
  group: ProcessGroup,
  flags: Flags,
  target: Target,
  upstream: Started,
): Promise<Run> {
  const url = `http://127.0.0.1:${target.port}/`;
  const load = { url, threads: flags.threads, connections: flags.connections };
  if (flags.warmupS > 0) await runWrk(group, { ...load, durationS: flags.warmupS });
  const proxyCpu = cpuOf(target.proxies);
  const upstreamCpu = cpuOf([upstream]);
  const wrk = await runWrk(group, { ...load, durationS: flags.durationS });
  const run = {
    wrk,
    proxyCpuS: cpuOf(target.proxies) - proxyCpu,
    upstreamCpuS: cpuOf([upstream]) - upstreamCpu,
  };
  progress(
    `${target.scenario} workers=${target.workers}: ${fmt(wrk.rps)} req/s, p50 ` +
      `${fmt(wrk.p50Ms, 2)} ms, p99 ${fmt(wrk.p99Ms, 2)} ms, ` +
      `proxy CPU ${fmt((run.proxyCpuS / wrk.requests) * 1e6, 1)} µs/req` +
      (wrk.socketErrors + wrk.non2xx > 0
        ? `, ${wrk.socketErrors} socket errors, ${wrk.non2xx} non-2xx`
        : ''),
  );
  return run;
}

function table(rows: Row[]): string {
  const lines = [
    '| scenario | workers / nbthread | req/s | p50 ms | p99 ms | proxies CPU µs/req | app CPU µs/req | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const proxied = r.scenario !== 'direct';
    lines.push(
      `| ${r.scenario} | ${proxied ? r.workers : ''} | ${fmt(r.rps)} | ${fmt(r.p50Ms, 2)} | ` +
        `${fmt(r.p99Ms, 2)} | ${proxied ? fmt(r.proxyCpuUs, 1) : ''} | ` +
        `${fmt(r.upstreamCpuUs, 1)} | ${r.errors} |`,
    );
  }
  return lines.join('\n');
}

interface Ratio {
  mode: Mode;
  workers: number;
  rps: number;
  p50: number;
  p99: number;
  cpu: number;
}

function ratios(rows: Row[], workers: number[]): Ratio[] {
  return PAIRS.flatMap((pair) => ratiosFor(rows, workers, pair));
}

function ratiosFor(rows: Row[], workers: number[], pair: (typeof PAIRS)[number]): Ratio[] {
  return workers.flatMap((w) => {
    const c = rows.find((r) => r.scenario === pair.causeway && r.workers === w);
    const h = rows.find((r) => r.scenario === pair.haproxy && r.workers === w);
    if (!c || !h) return [];
    return [
      {
        mode: pair.mode,
        workers: w,
        rps: c.rps / h.rps,
        p50: c.p50Ms / h.p50Ms,
        p99: c.p99Ms / h.p99Ms,
        cpu: c.proxyCpuUs / h.proxyCpuUs,
      },
    ];
  });
}

function ratioLines(list: Ratio[]): string {
  return list
    .map(
      (r) =>
        `- ${r.mode === 'http' ? 'HTTP (L7)' : 'TCP (L4)'}, workers/nbthread ${r.workers}: ` +
        `Causeway ÷ HAProxy req/s ${fmt(r.rps, 2)}, ` +
        `p50 ${fmt(r.p50, 2)}, p99 ${fmt(r.p99, 2)}, proxy CPU per request ${fmt(r.cpu, 2)}`,
    )
    .join('\n');
}

/** wrk counts failed responses in req/s too: say so wherever a path failed requests. */
function errorNotes(rows: Row[]): string {
  return rows
    .filter((r) => r.errors > 0)
    .map((r) => {
      const requests = r.runs.reduce((sum, run) => sum + run.wrk.requests, 0);
      const socket = r.runs.reduce((sum, run) => sum + run.wrk.socketErrors, 0);
      return (
        `Warning: ${r.scenario} (workers ${r.workers}) failed ${fmt(r.errors)} of ` +
        `${fmt(requests)} requests (${fmt((r.errors / requests) * 100, 1)}%; ` +
        `${fmt(r.errors - socket)} non-2xx/3xx, ${fmt(socket)} socket errors); wrk's req/s ` +
        `counts those responses too.`
      );
    })
    .join('\n');
}

async function printProfiles(dir: string, workers: number[], modes: Mode[]): Promise<void> {
  for (const w of workers.flatMap((n) => modes.map((mode) => ({ n, mode })))) {
    for (const role of ['outbound', 'inbound']) {
      const at = path.join(dir, `workers-${w.n}${w.mode === 'tcp' ? '-tcp' : ''}`, role);
      const files = await profilesIn(at).catch(() => []);
      if (files.length === 0) {
        progress(`no CPU profile in ${at}: the proxy must exit cleanly on SIGTERM to write one`);
        continue;
      }
      console.log(
        `\nTop self time, Causeway ${role} proxy (${w.mode}), --workers ${w.n} ` +
          `(${files.length} file(s) in ${at}):`,
      );
      for (const t of await topSelfTime(files, 20)) {
        console.log(`  ${fmt(t.percent, 1).padStart(5)}%  ${fmt(t.ms).padStart(7)} ms  ${t.frame}`);
      }
    }
  }
}

async function main(): Promise<void> {
  const flags = parseFlags();
  const group = new ProcessGroup();
  group.hookSignals(progress);
  const tools = ensureTools(
    [
      { command: 'haproxy', aptPackage: 'haproxy', versionArgs: ['-v'] },
      { command: 'wrk', aptPackage: 'wrk', versionArgs: ['--version'] },
    ],
    progress,
  );
  const load = os.loadavg()[0] ?? 0;
  const certs = await writeMeshCerts({
    trustDomain: 'causeway.mesh',
    zone: 'bench',
    services: ['bench-client', 'bench-server'],
  });
  group.onSignalCleanup(() => rm(certs.dir, { recursive: true, force: true }));
  const client = certs.leaves['bench-client']!;
  const server = certs.leaves['bench-server']!;
  const rows: Row[] = [];
  /** Pairs that did not start or did not pass the checks, one line each. */
  const failures: string[] = [];
  let causewayCommand = '';
  try {
    const upstream = await startUpstream(group, flags.upstreamProcesses);
    const expectedBody = await (await fetch(`http://127.0.0.1:${upstream.port}/`)).text();
    const startTarget = async (scenario: Scenario, workers: number): Promise<Target> => {
      const pairOptions = { certs, client, server, appPort: upstream.port, workers };
      const mode = scenario.endsWith('-tcp') ? 'tcp' : 'http';
      if (scenario.startsWith('causeway')) {
        progress(`starting the Causeway proxies (${mode}, --workers ${workers})`);
        const profileDir =
          flags.cpuProf &&
          path.join(flags.cpuProf, `workers-${workers}${mode === 'tcp' ? '-tcp' : ''}`);
        const pair = await startCausewayPair(group, {
          ...pairOptions,
          protocol: mode,
          ...(profileDir ? { profileDir } : {}),
        });
        causewayCommand ||= pair.command;
        return {
          scenario,
          workers,
          port: pair.outboundPort,
          inboundPort: pair.inboundPort,
          proxies: [pair.outbound, pair.inbound],
        };
      }
      progress(`starting the HAProxy pair (mode ${mode}, nbthread ${workers})`);
      const pair = await startHaproxyPair(group, { ...pairOptions, threads: workers, mode });
      return {
        scenario,
        workers,
        port: pair.outboundPort,
        inboundPort: pair.inboundPort,
        proxies: [pair.outbound, pair.inbound],
      };
    };
    const checkTarget = async (target: Target): Promise<void> => {
      await checkPath(target, expectedBody);
      if (
        target.inboundPort !== undefined &&
        !(await refusesClientWithoutCertificate(target.inboundPort, certs.rootsFile))
      ) {
        throw new Error(`${target.scenario}'s inbound answered a client without a certificate`);
      }
    };
    for (const [i, workers] of flags.workers.entries()) {
      const targets: Target[] = [];
      // The direct path does not depend on the proxies' workers: measure it once.
      if (i === 0 && flags.scenarios.includes('direct')) {
        targets.push({ scenario: 'direct', workers, port: upstream.port, proxies: [] });
      }
      for (const scenario of flags.scenarios.filter((s) => s !== 'direct')) {
        try {
          const target = await startTarget(scenario, workers);
          targets.push(target);
          await checkTarget(target);
        } catch (err) {
          // Report it and go on: the other pair and the other --workers values still count.
          const message = err instanceof Error ? err.message : String(err);
          failures.push(`${scenario} (workers ${workers}): ${message.trim().split('\n')[0]}`);
          progress(`${scenario} (workers ${workers}) failed: ${message}`);
          const failed = targets.find((t) => t.scenario === scenario);
          if (failed) {
            targets.splice(targets.indexOf(failed), 1);
            await Promise.all(failed.proxies.map((p) => group.stop(p)));
          }
        }
      }
      if (targets[0]?.scenario === 'direct') await checkTarget(targets[0]);
      const runs = new Map<Target, Run[]>(targets.map((t) => [t, []]));
      for (let round = 0; round < flags.rounds; round++) {
        for (const target of targets) {
          runs.get(target)!.push(await measureTarget(group, flags, target, upstream.started));
        }
      }
      for (const target of targets) {
        rows.push(summarize(target.scenario, target.workers, runs.get(target)!));
      }
      // Stop this round's proxies (not the app) before the next --workers value.
      await Promise.all(targets.flatMap((t) => t.proxies.map((p) => group.stop(p))));
    }
  } finally {
    await group.stopAll();
    await rm(certs.dir, { recursive: true, force: true });
  }

  const list = ratios(rows, flags.workers);
  const wrk = `wrk ${wrkArgs({ url: 'http://127.0.0.1:<port>/', threads: flags.threads, connections: flags.connections, durationS: flags.durationS }).join(' ')}`;
  const header =
    `Command: \`npm run bench:proxy -- ${process.argv.slice(2).join(' ')}\``.replace(
      / -- `$/,
      '`',
    ) +
    ` (${flags.rounds === 1 ? 'one measured run' : `${flags.rounds} measured runs, medians,`} ` +
    `of \`${wrk}\` per scenario after a ${flags.warmupS} s warm-up; Causeway: ` +
    `\`${causewayCommand || 'not run'}\` and the server side likewise; HAProxy ` +
    `${tools.get('haproxy')?.replace(/^HAProxy version (\S+).*/, '$1')} with the same nbthread; ` +
    `${tools.get('wrk')?.replace(/^wrk (\S+).*/, 'wrk $1')}; app: Node \`http\` server in ` +
    `${flags.upstreamProcesses === 1 ? 'one process' : `${flags.upstreamProcesses} processes`}, ` +
    `100-byte body; mTLS with EC P-256 leaves from ` +
    `core's CA). Everything on one machine sharing its cores: ${os.cpus().length} cores, ` +
    `${os.cpus()[0]?.model ?? 'unknown cpu'}, load average ${fmt(load, 2)} at start, Node ` +
    `${process.version}. Run at ${new Date().toISOString()}.`;
  const failed = failures.map((f) => `Failed: ${f}`).join('\n');
  if (failures.length > 0) process.exitCode = 1;
  const out = [table(rows), ratioLines(list), errorNotes(rows), failed]
    .filter((s) => s !== '')
    .join('\n\n');
  console.log(`\n${out}`);
  if (flags.cpuProf) {
    const modes = PAIRS.filter((p) => flags.scenarios.includes(p.causeway)).map((p) => p.mode);
    await printProfiles(flags.cpuProf, flags.workers, modes);
  }
  const first = list.find((r) => r.mode === 'http' && r.workers === flags.workers[0]);
  const firstTcp = list.find((r) => r.mode === 'tcp' && r.workers === flags.workers[0]);
  if (!first && !firstTcp) {
    console.log('\n(no Causeway and HAProxy pair measured: no ratio, docs left alone)');
    return;
  }
  // The last line is the HTTP comparison, as issue 5 asks; L4 comes just before it.
  const closing = [
    firstTcp &&
      `proxy-vs-haproxy (tcp): rps ratio ${firstTcp.rps.toFixed(2)}, p99 ratio ${firstTcp.p99.toFixed(2)}`,
    first &&
      `proxy-vs-haproxy: rps ratio ${first.rps.toFixed(2)}, p99 ratio ${first.p99.toFixed(2)}`,
  ]
    .filter((line) => line !== undefined)
    .join('\n');
  if (flags.doc) {
    await updateBenchDoc(
      path.resolve('docs/benchmarks.md'),
      'proxy',
      `${header}\n\n${out}\n\n${closing}`,
    );
    console.log('\nwrote docs/benchmarks.md (section "proxy")');
  }
  console.log(`\n${closing}`);
}

await main();

/**
 * `npm run bench:crosszone`: what a call across zones costs next to one inside a zone and
 * one straight to the app (issue 6, item 9), on the mesh `causeway dev` starts (global,
 * zones east and west, a gateway in each, the sample apps behind sidecars, every part a
 * child process on 127.0.0.1):
 *
 * - direct: wrk → the west `api` app (the app's own limit);
 * - in-zone: wrk → web's sidecar, upstream `api` → mTLS → east api's sidecar → app;
 * - cross-zone: wrk → web's sidecar, upstream `api@west` → east gateway (local listener)
 *   → pooled HTTP/2 CONNECT tunnel over the gateways' mTLS → west gateway → west api's
 *   sidecar → app, the proxies' own mTLS running end to end inside the tunnel.
 *
 * The same wrk settings for every case, each after an untimed warm-up. Then the cost of a
 * new client connection: the same three paths with `Connection: close` on every request
 * (the sidecar keeps its upstream connections pooled, so this is the client's connect plus
 * the warm path), and single requests on a fresh connection timed one at a time: with
 * every pool warm; after 6 s of quiet, when the sidecar's pooled mTLS connections have
 * closed (idle limit 4 s) but the gateways' tunnel session stays up (idle limit 60 s),
 * so the first request pays a new end-to-end mTLS connection through the pooled tunnel;
 * and after the east gateway has closed its idle tunnel session to west, so the first
 * request also pays a new gateway-to-gateway mTLS session.
 *
 * Besides wrk's figures, the CPU time the proxies and gateways used during each measured
 * run (from /proc) is divided by the requests served. Prints a table, the timed single
 * requests and ratio lines ending with `crosszone-vs-inzone: …` and
 * `crosszone-vs-direct: …`, and rewrites the "crosszone" section of docs/benchmarks.md
 * (unless --no-doc). Installs wrk with apt-get when it is missing. `--help` lists flags.
 */
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { DevMesh } from '../cli/index.ts';
import { ensureTools } from './lib/apt-tools.ts';
import { updateBenchDoc } from './lib/bench-doc.ts';
import { freshRequest } from './lib/fresh-request.ts';
import { fmt } from './lib/measure.ts';
import { ProcessGroup, treeCpuSeconds } from './lib/process-group.ts';
import { parseWrk, wrkArgs } from './lib/wrk.ts';
import type { WrkOptions, WrkResult } from './lib/wrk.ts';

const HELP = `usage: npm run bench:crosszone -- [flags]

  --duration S          measured wrk run per case, seconds (default 10)
  --warmup S            untimed wrk run before each measured one, seconds (default 3)
  --connections N       wrk connections (default 16)
  --threads N           wrk threads (default 1)
  --fresh N             single fresh-connection requests per path with pools warm (default 20)
  --cold N              first requests after 6 s idle (sidecar pool cold), per path (default 5)
  --tunnel-cold N       first requests after the tunnel session closed (each waits
                        for the 60 s idle limit; default 2, 0 to skip)
  --no-doc              leave docs/benchmarks.md alone (also BENCH_NO_DOC=1)
  --help
`;

interface Flags {
  durationS: number;
  warmupS: number;
  connections: number;
  threads: number;
  fresh: number;
  cold: number;
  tunnelCold: number;
  doc: boolean;
}

function count(value: string | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
  return n;
}

function parseFlags(): Flags {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      threads: { type: 'string' },
      fresh: { type: 'string' },
      cold: { type: 'string' },
      'tunnel-cold': { type: 'string' },
      'no-doc': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  return {
    durationS: count(values.duration, 'duration', 10),
    warmupS: count(values.warmup, 'warmup', 3, 0),
    connections: count(values.connections, 'connections', 16),
    threads: count(values.threads, 'threads', 1),
    fresh: count(values.fresh, 'fresh', 20),
    cold: count(values.cold, 'cold', 5, 0),
    tunnelCold: count(values['tunnel-cold'], 'tunnel-cold', 2, 0),
    doc: !values['no-doc'] && process.env.BENCH_NO_DOC !== '1',
  };
}

function progress(what: string): void {
  process.stderr.write(`bench:crosszone: ${what}\n`);
}

type PathName = 'direct' | 'in-zone' | 'cross-zone';

interface Target {
  path: PathName;
  port: number;
  /** The zone whose api must answer. */
  zone: 'east' | 'west';
}

interface Row {
  case: string;
  path: PathName;
  newConnections: boolean;
  wrk: WrkResult;
  /** Proxies' and gateways' CPU per request, µs. */
  meshCpuUs: number;
  gatewaysCpuUs: number;
}

/** The data-path processes of the dev mesh whose CPU time a case is charged. */
const PROXIES = ['proxy-web-east', 'proxy-api-east', 'proxy-api-west'];
const GATEWAYS = ['gateway-east', 'gateway-west'];

function cpuOf(mesh: DevMesh, names: string[]): number {
  return names.reduce((sum, name) => {
    const pid = mesh.child(name)?.process.pid;
    return sum + (pid ? treeCpuSeconds(pid) : 0);
  }, 0);
}

/** wrk, with `Connection: close` on every request when `close` (wrk then reconnects). */
async function wrk(
  group: ProcessGroup,
  o: WrkOptions,
  close: boolean,
): Promise<WrkResult & { args: string[] }> {
  const base = wrkArgs(o);
  const args = close ? [...base.slice(0, -1), '-H', 'Connection: close', o.url] : base;
  const started = group.spawn('wrk', 'wrk', args);
  const code = await new Promise<number | null>((resolve) => {
    started.child.once('exit', (c) => resolve(c));
    started.child.once('error', () => resolve(-1));
  });
  const raw = started.output();
  if (code !== 0) throw new Error(`wrk exited with ${code}:\n${raw}`);
  return { ...parseWrk(raw), command: `wrk ${args.join(' ')}`, args };
}

/** The api's answer through `target` must come from the expected zone, with a caller for proxied paths. */
async function checkPath(target: Target): Promise<void> {
  const reply = await freshRequest(`http://127.0.0.1:${target.port}/`);
  let body: { zone?: string; caller?: string | null } = {};
  try {
    body = JSON.parse(reply.body) as typeof body;
  } catch {
    // reported below
  }
  const proxied = target.path !== 'direct';
  if (reply.status !== 200 || body.zone !== target.zone || (proxied && !body.caller)) {
    throw new Error(
      `${target.path} answered ${reply.status} (expected api in ${target.zone}` +
        `${proxied ? ' with the caller identity' : ''}): ${reply.body.slice(0, 300)}`,
    );
  }
}

interface SessionView {
  id: number;
  state: string;
}

/** Ids of the east gateway's live tunnel sessions to west. */
async function tunnelSessions(adminPort: number): Promise<number[]> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/tunnels`, {
    signal: AbortSignal.timeout(5000),
  });
  const view = (await res.json()) as {
    outbound: { zone: string; sessions: SessionView[] }[];
  };
  return (view.outbound.find((p) => p.zone === 'west')?.sessions ?? [])
    .filter((s) => s.state !== 'closed')
    .map((s) => s.id);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function table(rows: Row[]): string {
  const lines = [
    '| case | req/s | p50 ms | p99 ms | proxies + gateways CPU µs/req | of which gateways | errors |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const proxied = r.path !== 'direct';
    lines.push(
      `| ${r.case} | ${fmt(r.wrk.rps)} | ${fmt(r.wrk.p50Ms, 2)} | ${fmt(r.wrk.p99Ms, 2)} | ` +
        `${proxied ? fmt(r.meshCpuUs, 1) : ''} | ${proxied ? fmt(r.gatewaysCpuUs, 1) : ''} | ` +
        `${r.wrk.socketErrors + r.wrk.non2xx} |`,
    );
  }
  return lines.join('\n');
}

const msList = (values: number[]): string => values.map((v) => fmt(v, 1)).join(', ');

async function main(): Promise<void> {
  const flags = parseFlags();
  const group = new ProcessGroup();
  group.hookSignals(progress);
  const tools = ensureTools(
    [{ command: 'wrk', aptPackage: 'wrk', versionArgs: ['--version'] }],
    progress,
  );
  const load = os.loadavg();
  const mesh = new DevMesh({
    say: progress,
    anyPorts: true,
    // No info-level lines per request or per connection from any part of the mesh.
    env: { ...process.env, CAUSEWAY_LOG_LEVEL: 'warn' },
  });
  group.onSignalCleanup(() => mesh.stop());
  let meshFailure: Error | undefined;
  void mesh.failure.then((err) => (meshFailure = err));
  const alive = (): void => {
    if (meshFailure) throw meshFailure;
  };

  const rows: Row[] = [];
  const fresh = new Map<PathName, number[]>();
  const cold = new Map<PathName, number[]>();
  const tunnelCold: number[] = [];
  let tunnelKept = 0;
  let tunnelNew = 0;
  let wrkCommand = '';
  let ok = false;
  try {
    progress('starting the dev mesh');
    const t0 = Date.now();
    await mesh.start();
    progress(`mesh ready in ${fmt((Date.now() - t0) / 1000, 1)} s (logs in ${mesh.dir})`);
    const p = mesh.ports;
    const targets: Target[] = [
      { path: 'direct', port: p.apps.apiWest, zone: 'west' },
      { path: 'in-zone', port: p.upstreams.api, zone: 'east' },
      { path: 'cross-zone', port: p.upstreams.apiWest, zone: 'west' },
    ];
    for (const t of targets) await checkPath(t);

    for (const close of [false, true]) {
      for (const target of targets) {
        alive();
        const name = `${target.path}${close ? ' (new connection per request)' : ''}`;
        const load = {
          url: `http://127.0.0.1:${target.port}/`,
          threads: flags.threads,
          connections: flags.connections,
        };
        if (flags.warmupS > 0) await wrk(group, { ...load, durationS: flags.warmupS }, close);
        const mesh0 = cpuOf(mesh, [...PROXIES, ...GATEWAYS]);
        const gw0 = cpuOf(mesh, GATEWAYS);
        const result = await wrk(group, { ...load, durationS: flags.durationS }, close);
        if (!close) wrkCommand ||= result.command.replace(/http:\S+$/, 'http://127.0.0.1:<port>/');
        const row: Row = {
          case: name,
          path: target.path,
          newConnections: close,
          wrk: result,
          meshCpuUs: ((cpuOf(mesh, [...PROXIES, ...GATEWAYS]) - mesh0) / result.requests) * 1e6,
          gatewaysCpuUs: ((cpuOf(mesh, GATEWAYS) - gw0) / result.requests) * 1e6,
        };
        rows.push(row);
        const errors = result.socketErrors + result.non2xx;
        progress(
          `${name}: ${fmt(result.rps)} req/s, p50 ${fmt(result.p50Ms, 2)} ms, p99 ` +
            `${fmt(result.p99Ms, 2)} ms` +
            (target.path === 'direct' ? '' : `, mesh CPU ${fmt(row.meshCpuUs, 1)} µs/req`) +
            (errors > 0 ? `, ${result.socketErrors} socket errors, ${result.non2xx} non-2xx` : ''),
        );
      }
    }
    // The load must not have moved the cross-zone upstream to another zone.
    for (const t of targets) await checkPath(t);

    progress(`${flags.fresh} single requests on fresh connections per path, pools warm`);
    for (const target of targets) {
      const url = `http://127.0.0.1:${target.port}/`;
      await freshRequest(url);
      const times: number[] = [];
      for (let i = 0; i < flags.fresh; i++) times.push((await freshRequest(url)).ms);
      fresh.set(target.path, times);
    }

    const gwAdmin = p.zones.east.gatewayAdmin;
    for (let i = 0; i < flags.cold; i++) {
      alive();
      progress(`first request after 6 s idle, ${i + 1}/${flags.cold}`);
      // Longer than the sidecar's 4 s pool idle limit and the inbound's 5 s keep-alive.
      await sleep(6000);
      const before = await tunnelSessions(gwAdmin);
      for (const target of targets.filter((t) => t.path !== 'direct')) {
        const reply = await freshRequest(`http://127.0.0.1:${target.port}/`);
        if (reply.status !== 200) throw new Error(`${target.path} answered ${reply.status}`);
        cold.set(target.path, [...(cold.get(target.path) ?? []), reply.ms]);
      }
      const after = await tunnelSessions(gwAdmin);
      if (before.length > 0 && after.some((id) => before.includes(id))) tunnelKept++;
    }

    for (let i = 0; i < flags.tunnelCold; i++) {
      alive();
      progress(
        `waiting for the east gateway to close its idle tunnel session to west ` +
          `(${i + 1}/${flags.tunnelCold}; up to 150 s)`,
      );
      const deadline = Date.now() + 150_000;
      let before = await tunnelSessions(gwAdmin);
      while (before.length > 0) {
        if (Date.now() > deadline) throw new Error('the tunnel session to west never closed');
        await sleep(1000);
        alive();
        before = await tunnelSessions(gwAdmin);
      }
      const reply = await freshRequest(`http://127.0.0.1:${p.upstreams.apiWest}/`);
      if (reply.status !== 200) throw new Error(`cross-zone answered ${reply.status}`);
      tunnelCold.push(reply.ms);
      if ((await tunnelSessions(gwAdmin)).length > 0) tunnelNew++;
    }
    alive();
    ok = true;
  } finally {
    progress('stopping the mesh');
    await group.stopAll();
    await mesh.stop();
    if (ok) await rm(mesh.dir, { recursive: true, force: true });
    else if (mesh.dir) progress(`logs kept in ${mesh.dir}`);
  }

  const byCase = (pathName: PathName, close: boolean): Row =>
    rows.find((r) => r.path === pathName && r.newConnections === close)!;
  const ratio = (a: Row, b: Row): { rps: number; p50: number; p99: number } => ({
    rps: a.wrk.rps / b.wrk.rps,
    p50: a.wrk.p50Ms / b.wrk.p50Ms,
    p99: a.wrk.p99Ms / b.wrk.p99Ms,
  });
  const line = (name: string, r: { rps: number; p99: number }): string =>
    `${name}: rps ratio ${r.rps.toFixed(2)}, p99 ratio ${r.p99.toFixed(2)}`;
  const crossInzone = ratio(byCase('cross-zone', false), byCase('in-zone', false));
  const crossDirect = ratio(byCase('cross-zone', false), byCase('direct', false));
  const inzoneDirect = ratio(byCase('in-zone', false), byCase('direct', false));
  const crossInzoneNew = ratio(byCase('cross-zone', true), byCase('in-zone', true));

  const m = (name: PathName, from: Map<PathName, number[]>): string =>
    fmt(median(from.get(name) ?? []), 2);
  const single = [
    `Single requests on a fresh connection (\`Connection: close\`), one at a time, median ms:`,
    '',
    '| state of the path | direct | in-zone | cross-zone | samples (cross-zone, ms) |',
    '|---|---:|---:|---:|---|',
    `| pools warm | ${m('direct', fresh)} | ${m('in-zone', fresh)} | ${m('cross-zone', fresh)} | ` +
      `${flags.fresh} per path |`,
    ...(flags.cold > 0
      ? [
          `| after 6 s idle: sidecar pool closed, tunnel session pooled | | ${m('in-zone', cold)} | ` +
            `${m('cross-zone', cold)} | ${msList(cold.get('cross-zone') ?? [])} (tunnel session ` +
            `reused ${tunnelKept}/${flags.cold}) |`,
        ]
      : []),
    ...(flags.tunnelCold > 0
      ? [
          `| no tunnel session (after the gateway's 60 s idle close) | | | ` +
            `${fmt(median(tunnelCold), 2)} | ${msList(tunnelCold)} (new session opened ` +
            `${tunnelNew}/${flags.tunnelCold}) |`,
        ]
      : []),
  ].join('\n');

  const ratios = [
    `- in-zone ÷ direct: req/s ${fmt(inzoneDirect.rps, 2)}, p50 ${fmt(inzoneDirect.p50, 2)}, p99 ${fmt(inzoneDirect.p99, 2)}`,
    `- cross-zone ÷ direct: req/s ${fmt(crossDirect.rps, 2)}, p50 ${fmt(crossDirect.p50, 2)}, p99 ${fmt(crossDirect.p99, 2)}`,
    `- cross-zone ÷ in-zone: req/s ${fmt(crossInzone.rps, 2)}, p50 ${fmt(crossInzone.p50, 2)}, p99 ${fmt(crossInzone.p99, 2)}`,
    `- cross-zone ÷ in-zone, new connection per request: req/s ${fmt(crossInzoneNew.rps, 2)}, ` +
      `p50 ${fmt(crossInzoneNew.p50, 2)}, p99 ${fmt(crossInzoneNew.p99, 2)}`,
  ].join('\n');

  const errors = rows.filter((r) => r.wrk.socketErrors + r.wrk.non2xx > 0);
  const warnings = errors
    .map(
      (r) =>
        `Warning: ${r.case} failed ${fmt(r.wrk.socketErrors + r.wrk.non2xx)} of ` +
        `${fmt(r.wrk.requests)} requests (${r.wrk.socketErrors} socket errors, ` +
        `${r.wrk.non2xx} non-2xx/3xx); wrk's req/s counts them too.`,
    )
    .join('\n');

  const closing = [
    line('crosszone-vs-inzone (new connections)', crossInzoneNew),
    line('crosszone-vs-inzone', crossInzone),
    line('crosszone-vs-direct', crossDirect),
  ].join('\n');
  const header =
    `Command: \`npm run bench:crosszone -- ${process.argv.slice(2).join(' ')}\``.replace(
      / -- `$/,
      '`',
    ) +
    ` (one measured run of \`${wrkCommand}\` per case after a ${flags.warmupS} s warm-up, the ` +
    `same with \`-H 'Connection: close'\` for the new-connection cases; ` +
    `${tools.get('wrk')?.replace(/^wrk (\S+).*/, 'wrk $1')}; the mesh of \`causeway dev\` ` +
    `(global, zones east and west, one gateway each, sample apps \`deploy/sample-app/server.mjs\` ` +
    `behind \`--app-protocol http\` sidecars, every part a child process, log level warn). ` +
    `Everything on one machine sharing its cores: ${os.cpus().length} cores, ` +
    `${os.cpus()[0]?.model ?? 'unknown cpu'}, load average ${load.map((l) => fmt(l, 2)).join(' / ')} ` +
    `(1 / 5 / 15 min) at start, Node ${process.version}. Run at ${new Date().toISOString()}.`;
  const out = [table(rows), ratios, single, warnings].filter((s) => s !== '').join('\n\n');
  console.log(`\n${out}`);
  if (flags.doc) {
    await updateBenchDoc(
      path.resolve('docs/benchmarks.md'),
      'crosszone',
      `${header}\n\n${out}\n\n${closing}`,
    );
    console.log('\nwrote docs/benchmarks.md (section "crosszone")');
  }
  console.log(`\n${closing}`);
}

await main();

/**
 * `npm run bench:ca`: the CA's costs for choosing the leaf key type (issue 4), RSA-2048
 * beside ECDSA P-256, in one process on one core:
 *
 * - leaf signing: `signLeafCertificate` (CSR validation included) from pre-made CSRs, by a
 *   zone intermediate of the same key type; `validateCsr` alone; Node's `crypto.sign`
 *   alone; and `openssl speed` in the same run as the raw-crypto reference. The issue's
 *   goal is at least 1,000 leaf signings a second.
 * - mutual-TLS handshakes: full TLS 1.3 (and 1.2) handshakes against a local `tls` server
 *   with SPIFFE ID checks on both sides, one at a time.
 * - `generateKeyPair` and `createCsr`: what a proxy pays on start.
 *
 * Every figure comes wall clock and per second of CPU time; the goal and the closing
 * decision line use CPU time, which other work on a shared machine dilutes far less.
 *
 * Env: BENCH_SECONDS (default 3) per main measurement, BENCH_NO_DOC=1 to leave the docs
 * alone. Rewrites the "ca" section of docs/benchmarks.md.
 */
import { sign } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { SecureVersion } from 'node:tls';
import {
  createCsr,
  createRootCertificate,
  formatSpiffeId,
  generateKeyPair,
  privateKeyToPem,
  signIntermediateCertificate,
  signLeafCertificate,
  validateCsr,
} from '../core/index.ts';
import type { IssuerCa, KeyPair, KeySpec } from '../core/index.ts';
import { updateBenchDoc } from './lib/bench-doc.ts';
import { fmt } from './lib/measure.ts';
import { measureHandshakes } from './lib/mtls-handshakes.ts';
import type { HandshakeResult, MtlsPair } from './lib/mtls-handshakes.ts';
import { opensslSpeed } from './lib/openssl-speed.ts';
import type { OpensslSpeed, SpeedResult } from './lib/openssl-speed.ts';
import { runFor } from './lib/timed.ts';
import type { Rate } from './lib/timed.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const MAIN_MS = SECONDS * 1000;
const SIDE_MS = SECONDS * 500;
const GOAL_PER_SEC = 1000;
const TD = 'mesh.bench';

interface KeyKind {
  name: 'RSA-2048' | 'EC P-256';
  spec: KeySpec;
  /** Leaf keys generated (and timed) up front; signing cycles through their CSRs. */
  leafKeys: number;
  reference: (s: OpensslSpeed) => SpeedResult;
}

const KINDS: KeyKind[] = [
  {
    name: 'RSA-2048',
    spec: { type: 'rsa', bits: 2048 },
    leafKeys: 12,
    reference: (s) => s.rsa2048,
  },
  { name: 'EC P-256', spec: { type: 'ec' }, leafKeys: 100, reference: (s) => s.ecdsaP256 },
];

/** Mean cost of one call, wall clock and process CPU time. */
interface Cost {
  wallMs: number;
  cpuMs: number;
}

interface KindResult {
  kind: KeyKind;
  keygen: Cost;
  /** Set when this key type cannot go through the CA (yet). */
  unavailable?: string;
  csr?: Cost;
  signLeaf?: Rate;
  validate?: Rate;
  cryptoSign?: Rate;
  handshakes?: Partial<Record<SecureVersion, HandshakeResult>>;
}

/** Run `fn` once and charge its wall and CPU time to `count` calls. */
async function costOf<T>(count: number, fn: () => T | Promise<T>): Promise<[T, Cost]> {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const wallMs = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  return [value, { wallMs: wallMs / count, cpuMs: (used.user + used.system) / 1000 / count }];
}

function progress(what: string): void {
  process.stderr.write(`bench:ca: ${what}\n`);
}

const workload = (zone: string, service: string): string =>
  formatSpiffeId({ kind: 'workload', trustDomain: TD, zone, namespace: 'default', service });

function zoneCa(root: IssuerCa, zone: string, keyPair: KeyPair): IssuerCa {
  const csrPem = createCsr({
    keyPair,
    spiffeId: formatSpiffeId({ kind: 'control', trustDomain: TD, zone }),
  });
  return {
    certificatePem: signIntermediateCertificate({ issuer: root, trustDomain: TD, zone, csrPem }),
    privateKey: keyPair.privateKey,
  };
}

function mtlsIdentity(zone: IssuerCa, spiffeId: string, keyPair: KeyPair): MtlsPair['server'] {
  const csrPem = createCsr({ keyPair, spiffeId });
  return {
    keyPem: privateKeyToPem(keyPair.privateKey),
    certChainPem: signLeafCertificate({ issuer: zone, csrPem, spiffeId }) + zone.certificatePem,
    spiffeId,
  };
}

async function benchKind(kind: KeyKind): Promise<KindResult> {
  progress(`${kind.name}: generating ${kind.leafKeys} leaf keys one at a time`);
  const [leafKeys, keygen] = await costOf(kind.leafKeys, async () => {
    const keys: KeyPair[] = [];
    for (let i = 0; i < kind.leafKeys; i++) keys.push(await generateKeyPair(kind.spec));
    return keys;
  });
  const result: KindResult = { kind, keygen };
  // CA and TLS keys, generated in parallel and not timed.
  const gen = (): Promise<KeyPair> => generateKeyPair(kind.spec);
  const [rootKey, eastKey, westKey, apiKey, webKey] = await Promise.all([
    gen(),
    gen(),
    gen(),
    gen(),
    gen(),
  ]);

  let root: IssuerCa;
  let east: IssuerCa;
  let csrs: { csrPem: string; spiffeId: string }[];
  try {
    root = {
      certificatePem: createRootCertificate({ trustDomain: TD, keyPair: rootKey }),
      privateKey: rootKey.privateKey,
    };
    east = zoneCa(root, 'east', eastKey);
    [csrs, result.csr] = await costOf(leafKeys.length, () =>
      leafKeys.map((keyPair, i) => {
        const spiffeId = workload('east', `web-${i}`);
        return { csrPem: createCsr({ keyPair, spiffeId }), spiffeId };
      }),
    );
  } catch (err) {
    result.unavailable = err instanceof Error ? err.message : String(err);
    progress(`${kind.name}: the CA cannot issue these keys: ${result.unavailable}`);
    return result;
  }
  const csr = (i: number): { csrPem: string; spiffeId: string } => csrs[i % csrs.length]!;

  progress(`${kind.name}: signLeafCertificate for ${SECONDS} s`);
  result.signLeaf = runFor((i) => signLeafCertificate({ issuer: east, ...csr(i) }), MAIN_MS);
  result.validate = runFor((i) => validateCsr(csr(i).csrPem, csr(i).spiffeId), SIDE_MS);
  // The raw signature through Node's binding, over bytes the size of a leaf's TBS.
  const tbsSized = Buffer.alloc(700, 7);
  result.cryptoSign = runFor(() => sign('sha256', tbsSized, east.privateKey), SIDE_MS);

  const pair: MtlsPair = {
    server: mtlsIdentity(east, workload('east', 'api'), apiKey),
    client: mtlsIdentity(zoneCa(root, 'west', westKey), workload('west', 'web'), webKey),
    bundlePem: [root.certificatePem],
  };
  result.handshakes = {};
  for (const [version, ms] of [
    ['TLSv1.3', MAIN_MS],
    ['TLSv1.2', SIDE_MS],
  ] as const) {
    progress(`${kind.name}: ${version} mutual handshakes for ${ms / 1000} s`);
    result.handshakes[version] = await measureHandshakes(pair, version, ms);
  }
  return result;
}

function signingTable(results: KindResult[], speed: OpensslSpeed): string {
  const lines = [
    '| key | operation | ops/s | mean µs | ops/CPU-s | CPU µs/op | ÷ openssl (CPU) | CPU % |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const ref = r.kind.reference(speed);
    const row = (op: string, rate: Rate | undefined, refPerCpuSec: number): void => {
      if (!rate) return;
      lines.push(
        `| ${r.kind.name} | ${op} | ${fmt(rate.opsPerSec)} | ${fmt(rate.meanMs * 1000)} | ` +
          `${fmt(rate.opsPerCpuSec)} | ${fmt(rate.cpuMsPerOp * 1000)} | ` +
          `${fmt(rate.opsPerCpuSec / refPerCpuSec, 2)} | ${fmt(rate.cpuShare * 100)} |`,
      );
    };
    const reference = (op: string, perCpuSec: number): void => {
      lines.push(
        `| ${r.kind.name} | openssl speed ${op} | | | ${fmt(perCpuSec)} | ${fmt(1e6 / perCpuSec)} | 1.00 | |`,
      );
    };
    if (r.unavailable) lines.push(`| ${r.kind.name} | unavailable: ${r.unavailable} | | | | | | |`);
    row('signLeafCertificate (validates the CSR)', r.signLeaf, ref.signPerSec);
    row('validateCsr alone', r.validate, ref.verifyPerSec);
    row('Node crypto.sign alone', r.cryptoSign, ref.signPerSec);
    reference('sign', ref.signPerSec);
    reference('verify', ref.verifyPerSec);
  }
  return lines.join('\n');
}

/** Per leaf: CPU time beyond the raw crypto it needs (one sign, one CSR verify). */
function overheadLine(results: KindResult[], speed: OpensslSpeed): string {
  const parts = results.flatMap((r) => {
    if (!r.signLeaf) return [];
    const ref = r.kind.reference(speed);
    const cryptoUs = 1e6 / ref.signPerSec + 1e6 / ref.verifyPerSec;
    const leafUs = r.signLeaf.cpuMsPerOp * 1000;
    return [
      `${r.kind.name} ${fmt(leafUs)} µs per leaf, of which ${fmt(cryptoUs)} µs is one sign ` +
        `and one verify at openssl speed (${fmt(leafUs - cryptoUs)} µs is ours)`,
    ];
  });
  return parts.length ? `CPU time per leaf: ${parts.join('; ')}.` : '';
}

function handshakeTable(results: KindResult[]): string {
  const lines = [
    '| TLS | key | negotiated | handshakes/s | mean ms | p99 ms | CPU ms/handshake | CPU % |',
    '|---|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    for (const r of results) {
      const h = r.handshakes?.[version];
      if (!h) continue;
      lines.push(
        `| ${version} | ${r.kind.name} | ${h.negotiated} | ${fmt(h.opsPerSec)} | ` +
          `${fmt(h.meanMs, 3)} | ${fmt(h.p99Ms, 3)} | ${fmt(h.cpuMsPerOp, 3)} | ${fmt(h.cpuShare * 100)} |`,
      );
    }
  }
  return lines.join('\n');
}

function handshakeRatios(rsa: KindResult, ec: KindResult): string {
  const parts = (['TLSv1.3', 'TLSv1.2'] as const).flatMap((v) => {
    const r = rsa.handshakes?.[v];
    const e = ec.handshakes?.[v];
    if (!r || !e) return [];
    return [
      `${v} ${fmt(e.cpuMsPerOp / r.cpuMsPerOp, 2)} in CPU time ` +
        `(${fmt(e.meanMs / r.meanMs, 2)} wall clock)`,
    ];
  });
  return parts.length ? `EC ÷ RSA per handshake: ${parts.join('; ')}.` : '';
}

function keygenTable(results: KindResult[]): string {
  const lines = [
    '| key | keys, one at a time | generateKeyPair ms | CPU ms | createCsr ms | CPU ms |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const csr = r.csr ? `${fmt(r.csr.wallMs, 3)} | ${fmt(r.csr.cpuMs, 3)}` : 'unavailable | ';
    lines.push(
      `| ${r.kind.name} | ${r.kind.leafKeys} | ${fmt(r.keygen.wallMs, 3)} | ` +
        `${fmt(r.keygen.cpuMs, 3)} | ${csr} |`,
    );
  }
  return lines.join('\n');
}

/** The question in one line, from CPU-time figures (one core's worth). */
function decisionLine(rsa: KindResult, ec: KindResult): string {
  const perSec = (r: KindResult): string =>
    r.signLeaf ? `${fmt(r.signLeaf.opsPerCpuSec)}/s` : `unavailable (${r.unavailable ?? '?'})`;
  const goal = ec.signLeaf
    ? ` (goal ${GOAL_PER_SEC}/s: ${ec.signLeaf.opsPerCpuSec >= GOAL_PER_SEC ? 'met' : 'not met'})`
    : '';
  const ms = (r: KindResult): string => {
    const h = r.handshakes?.['TLSv1.3'];
    return h ? `${fmt(h.cpuMsPerOp, 2)} ms` : 'n/a';
  };
  return (
    `ca: leaf signing EC ${perSec(ec)}${goal}, RSA ${perSec(rsa)}; ` +
    `handshake EC ${ms(ec)} vs RSA ${ms(rsa)} ` +
    `(per CPU-second and CPU ms; TLS 1.3 mutual, full, both sides)`
  );
}

async function main(): Promise<void> {
  const started = performance.now();
  const load = os.loadavg()[0] ?? 0;
  const results: KindResult[] = [];
  for (const kind of KINDS) results.push(await benchKind(kind));
  progress('openssl speed (about 8 s)');
  const speed = opensslSpeed(2);
  const [rsa, ec] = results as [KindResult, KindResult];

  const out = [
    '### Leaf signing (one core)',
    signingTable(results, speed),
    overheadLine(results, speed),
    '### Mutual-TLS handshakes (one core, both sides in one process)',
    handshakeTable(results),
    handshakeRatios(rsa, ec),
    '### Key generation (what a proxy pays on start)',
    keygenTable(results),
    decisionLine(rsa, ec),
  ]
    .filter((s) => s !== '')
    .join('\n\n');
  const header =
    `Command: \`npm run bench:ca\` (BENCH_SECONDS=${SECONDS}: signing and TLS 1.3 for ` +
    `${SECONDS} s each, CSR validation, crypto.sign and TLS 1.2 for ${SIDE_MS / 1000} s, ` +
    `each after a 0.3 s warm-up, one operation at a time; each chain is root → zone ` +
    `intermediate → leaf of one key type; reference: \`${speed.command}\`, ${speed.version}). ` +
    `Rates per CPU-second divide by this process's CPU time (user + system, all threads), ` +
    `as \`openssl speed\` divides by its user CPU time, so they hold on a shared machine; ` +
    `CPU % is CPU time ÷ wall time (100 when the loop had a core to itself). ` +
    `Machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown cpu'}, load ` +
    `average ${fmt(load, 2)} at start, Node ${process.version} with OpenSSL ` +
    `${process.versions.openssl}. Run at ${new Date().toISOString()} in ` +
    `${fmt((performance.now() - started) / 1000, 1)} s.`;
  console.log(out);
  if (process.env.BENCH_NO_DOC !== '1') {
    await updateBenchDoc(path.resolve('docs/benchmarks.md'), 'ca', `${header}\n\n${out}`);
    console.log('\nwrote docs/benchmarks.md (section "ca")');
  }
}

await main();

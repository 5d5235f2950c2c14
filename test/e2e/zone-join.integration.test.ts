/**
 * Joining a zone to its global control plane, with separate processes: `causeway run
 * global` and `causeway run zone --global-addr … --zone-token-file …` children on 127.0.0.1.
 *
 * Two kinds of refusal, as designed (zone-control/src/sync/global-client.ts, docs/zone-sync.md):
 * - a token the zone itself can tell is wrong — not a zone token at all, or one for another
 *   zone name than `--name` — stops the zone at start: exit code 2, the reason on stderr,
 *   and global never hears from it;
 * - a token only global can judge — a bad signature, expired, a disabled zone — is refused
 *   at the sync upgrade (401 for a token that proves nothing, 403 for a zone that may not
 *   join); the zone stays up retrying with backoff, logs global's reason each time, and
 *   does not serve its API (a federated zone has no CA before it joins). Global logs the
 *   refusal too.
 * In every case global's `/api/zones` shows the zone offline; a valid token joins.
 *
 * The expired token: the API's shortest token lifetime is one minute, too long to wait for
 * here, so the test makes global's CA state (root and token-signing key) in its data
 * directory first, with global's own `GlobalCa`, and signs an already expired token with
 * it; the global child then starts on that directory and holds the same key.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { pino } from 'pino';
import { openStore, resolveSealer } from '../../core/index.ts';
import { GlobalCa } from '../../global-control/index.ts';
import { eventually, withTimeout } from '../helpers/async.ts';
import { childEnv } from '../helpers/child-env.ts';
import { freePort } from '../helpers/ports.ts';

const BIN = fileURLToPath(new URL('../../cli/bin/causeway.js', import.meta.url));
const TD = 'causeway.mesh';

/** A `causeway` child process with its stdout and stderr kept apart. */
class Child {
  readonly process: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    args: string[],
  ) {
    this.process = spawn(process.execPath, [BIN, ...args], {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process.stdout?.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.process.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.process.once('exit', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Both streams (pino writes JSON lines to stdout, the CLI its errors to stderr). */
  output(): string {
    return `${this.stdout}\n${this.stderr}`;
  }

  /** Log lines (JSON) whose `msg` is `msg`. */
  lines(msg: string): Record<string, unknown>[] {
    return this.output()
      .split('\n')
      .flatMap((line) => {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          return parsed.msg === msg ? [parsed] : [];
        } catch {
          return [];
        }
      });
  }

  /** SIGTERM, SIGKILL after 10 s; resolves once it exited. */
  async stop(): Promise<void> {
    if (!this.running) return;
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 10_000);
    this.process.kill('SIGTERM');
    await this.exited;
    clearTimeout(timer);
  }
}

interface ZoneView {
  name: string;
  enabled: boolean;
  sync: { online: boolean; connectedAt?: string; auth?: string };
}

describe('zone registration at the global control plane (e2e)', function () {
  this.timeout(60_000);

  let dir = '';
  let global: Child | undefined;
  let globalUrl = '';
  let syncPort = 0;
  const children: Child[] = [];
  const tokens: Record<string, string> = {};
  let expiredToken = '';
  let expiredAt = '';
  let attempt = 0;

  async function api<T>(method: string, path_: string, body?: unknown): Promise<T> {
    const res = await fetch(`${globalUrl}${path_}`, {
      method,
      signal: AbortSignal.timeout(5000),
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path_}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }

  async function zoneAtGlobal(name: string): Promise<ZoneView | undefined> {
    const { zones } = await api<{ zones: ZoneView[] }>('GET', '/api/zones');
    return zones.find((z) => z.name === name);
  }

  /** Global's log lines about refused zone sync connections, by reason. */
  const refusalsAtGlobal = (): string[] =>
    (global as Child).lines('refused a zone sync connection').map((l) => String(l.reason));

  /** Global logged the refusal the zone reported (`reason` holds global's reason). */
  async function globalLogged(reason: string): Promise<void> {
    await eventually(
      () => refusalsAtGlobal().some((r) => reason.endsWith(r)),
      `global to log the refusal "${reason}"`,
      10_000,
      100,
    );
  }

  /** `causeway run zone --name <name>` with `token` in its token file, on fresh ports and data. */
  async function startZone(name: string, token: string): Promise<{ zone: Child; httpUrl: string }> {
    attempt++;
    const tokenFile = path.join(dir, `${name}-${attempt}.token`);
    await writeFile(tokenFile, token, { mode: 0o600 });
    const http = await freePort();
    const zone = new Child(`zone-${name}-${attempt}`, [
      'run',
      'zone',
      '--dev',
      '--name',
      name,
      '--data-dir',
      path.join(dir, `${name}-${attempt}`),
      '--http-addr',
      `127.0.0.1:${http}`,
      '--xds-addr',
      `127.0.0.1:${await freePort()}`,
      '--global-addr',
      `wss://127.0.0.1:${syncPort}`,
      '--zone-token-file',
      tokenFile,
    ]);
    children.push(zone);
    return { zone, httpUrl: `http://127.0.0.1:${http}` };
  }

  /** A zone that must stop at start: exit code 2 and `reason` on stderr, nothing sent to global. */
  async function expectExitAtStart(name: string, token: string, reason: RegExp): Promise<void> {
    const refusedBefore = refusalsAtGlobal().length;
    const { zone } = await startZone(name, token);
    const code = await withTimeout(zone.exited, 30_000, `zone ${name} to exit`);
    expect(code, zone.output()).to.equal(2);
    expect(zone.stderr).to.match(reason);
    expect(zone.lines('zone sync with global established')).to.deep.equal([]);
    expect(refusalsAtGlobal().length, 'refusals logged by global').to.equal(refusedBefore);
    expect((await zoneAtGlobal(name))?.sync.online).to.not.equal(true);
  }

  /**
   * A zone global refuses at the sync upgrade: it logs global's answer (`refusal`, which
   * names the HTTP status and the reason) at least twice — it keeps retrying and does not
   * exit — and never serves its API; global logs the reason; the zone stays offline.
   */
  async function expectRefusedByGlobal(
    name: string,
    token: string,
    refusal: RegExp,
  ): Promise<string> {
    const { zone, httpUrl } = await startZone(name, token);
    try {
      const failures = await eventually(
        () => {
          if (!zone.running) throw new Error(`zone ${name} exited:\n${zone.output()}`);
          const lines = zone.lines('zone sync with global failed');
          return lines.length >= 2 ? lines : undefined;
        },
        `zone ${name} to report two refusals`,
        30_000,
        100,
      );
      for (const line of failures) expect(String(line.err)).to.match(refusal);
      expect(zone.running, 'the zone keeps running and retrying').to.equal(true);
      expect(zone.lines('zone sync with global established')).to.deep.equal([]);
      let served: string;
      try {
        const res = await fetch(`${httpUrl}/v1/status/leader`, {
          signal: AbortSignal.timeout(2000),
        });
        served = `answered ${res.status}`;
      } catch {
        served = 'not serving';
      }
      expect(served, 'the API of a zone that has not joined').to.equal('not serving');
      const view = await zoneAtGlobal(name);
      expect(view?.sync.online).to.equal(false);
      expect(view?.sync.connectedAt).to.equal(undefined);
      return String(failures[0]?.err);
    } finally {
      await zone.stop();
    }
  }

  before(async function () {
    this.timeout(60_000);
    dir = await mkdtemp(path.join(tmpdir(), 'cw-zone-join-'));
    const dataDir = path.join(dir, 'global');

    // Global's CA state, made by global's own code in the directory the child will use,
    // so the test can sign an expired token with the real token-signing key.
    const logger = pino({ level: 'silent' });
    const sealer = await resolveSealer(
      { store: undefined, dataDir, caEncryptionKey: undefined, caEncryptionKeyFile: undefined },
      logger,
    );
    const store = await openStore(undefined, { dataDir, logger });
    let rootPin: string;
    try {
      const ca = new GlobalCa(
        store,
        { trustDomain: TD, sealer, keyType: 'ec', serverCertTtlMs: 24 * 3600_000 },
        logger,
      );
      await ca.load();
      rootPin = ca.rootPin();
      const { token, payload } = ca.issueZoneToken({
        zone: 'east',
        kind: 'universal',
        ttlMs: 60_000,
        iat: Math.floor(Date.now() / 1000) - 3600,
      });
      expiredToken = token;
      expiredAt = new Date(payload.exp * 1000).toISOString();
    } finally {
      await store.close();
    }

    const httpPort = await freePort();
    syncPort = await freePort();
    globalUrl = `http://127.0.0.1:${httpPort}`;
    global = new Child('global', [
      'run',
      'global',
      '--dev',
      '--data-dir',
      dataDir,
      '--http-addr',
      `127.0.0.1:${httpPort}`,
      '--sync-addr',
      `127.0.0.1:${syncPort}`,
    ]);
    children.push(global);
    const health = await eventually(
      async () => {
        if (!global?.running) throw new Error(`global exited:\n${global?.output()}`);
        try {
          return await api<{ status: string; rootPin: string }>('GET', '/api/health');
        } catch {
          return undefined; // not listening yet
        }
      },
      'global to serve',
      30_000,
      200,
    );
    // The child runs on the CA state made above: the expired token carries its key.
    expect(health.rootPin).to.equal(rootPin);

    for (const name of ['east', 'west', 'north']) {
      const created = await api<{ token: string }>('POST', '/api/zones', {
        name,
        kind: 'universal',
      });
      tokens[name] = created.token;
    }
    await api('PATCH', '/api/zones/north', { enabled: false });
  });

  after(async function () {
    this.timeout(60_000);
    // Zones first, then global.
    for (const child of [...children].reverse()) await child.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('stops a zone at start when its token is malformed (exit 2, the reason on stderr)', async () => {
    await expectExitAtStart(
      'east',
      'not-a-zone-token',
      /zoneToken is not a zone token: expected cwzt\.<payload>\.<signature>/,
    );
  });

  it("stops a zone at start when it is given another zone's token (west with east's)", async () => {
    await expectExitAtStart(
      'west',
      tokens.east as string,
      /the zone token is for zone "east", but this zone is "west" \(--name\)/,
    );
  });

  it('refuses a token with a bad signature (401): the zone keeps retrying and does not join', async () => {
    // East's claims with a signature global made for another payload (west's token).
    const [prefix, payload] = (tokens.east as string).split('.');
    const signature = (tokens.west as string).split('.')[2];
    const reason = await expectRefusedByGlobal(
      'east',
      `${prefix}.${payload}.${signature}`,
      /^global refused the zone \(HTTP 401\): zone token refused: bad signature/,
    );
    await globalLogged(reason);
  });

  it('refuses an expired token (401) and says when it expired', async () => {
    const reason = await expectRefusedByGlobal(
      'east',
      expiredToken,
      new RegExp(
        `^global refused the zone \\(HTTP 401\\): zone token for zone "east" expired at ${expiredAt.replace(/\./g, '\\.')}`,
      ),
    );
    await globalLogged(reason);
  });

  it('refuses the token of a disabled zone (403) and says the zone is disabled', async () => {
    const reason = await expectRefusedByGlobal(
      'north',
      tokens.north as string,
      /^global refused the zone \(HTTP 403\): zone "north" is disabled/,
    );
    await globalLogged(reason);
    expect((await zoneAtGlobal('north'))?.enabled).to.equal(false);
  });

  it('joins a zone with a valid token, and only that zone is online', async () => {
    const { zone, httpUrl } = await startZone('east', tokens.east as string);
    await eventually(
      async () => {
        if (!zone.running) throw new Error(`zone east exited:\n${zone.output()}`);
        try {
          const res = await fetch(`${httpUrl}/v1/status/leader`, {
            signal: AbortSignal.timeout(2000),
          });
          return res.status === 200;
        } catch {
          return false;
        }
      },
      'zone east to join and serve its API',
      30_000,
      200,
    );
    expect(zone.lines('zone sync with global established')[0]).to.include({ auth: 'token' });
    const federation = (await (await fetch(`${httpUrl}/api/federation`)).json()) as {
      zone: string;
      federated: boolean;
      global: { connected: boolean } | null;
    };
    expect(federation).to.include({ zone: 'east', federated: true });
    expect(federation.global?.connected).to.equal(true);
    const east = await eventually(
      async () => {
        const view = await zoneAtGlobal('east');
        return view?.sync.online === true ? view : undefined;
      },
      'east online at global',
      10_000,
      200,
    );
    expect(east.sync.auth).to.equal('token');
    expect(east.sync.connectedAt).to.be.a('string');
    for (const other of ['west', 'north']) {
      expect((await zoneAtGlobal(other))?.sync.online, other).to.equal(false);
    }
  });
});

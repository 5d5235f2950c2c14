/**
 * `causeway dev`: a whole multi-zone mesh on this machine, as real child processes on the
 * embedded store, with nothing else installed:
 *
 *   global control plane ── zone east ── gateway east ── web (east) + api (east) + sidecars
 *                        └─ zone west ── gateway west ── api (west) + sidecar
 *
 * Steps, each waiting for the previous one to be ready: global; the two zones created at
 * global (their tokens written to files) and started with them; each zone exports `api`;
 * the gateways; the sample apps (`deploy/sample-app/server.mjs`) with their sidecars; and
 * finally a real request through web to api in each zone, so "ready" means the
 * cross-zone path works, not just that processes started.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Children, logTail } from './children.ts';
import type { ChildSpec, RunningChild } from './children.ts';

const BIN = fileURLToPath(new URL('../../bin/causeway.js', import.meta.url));
const SAMPLE_APP = fileURLToPath(new URL('../../../deploy/sample-app/server.mjs', import.meta.url));

export interface DevPorts {
  globalHttp: number;
  globalSync: number;
  zones: Record<
    'east' | 'west',
    { http: number; xds: number; gatewayPublic: number; gatewayLocal: number; gatewayAdmin: number }
  >;
  apps: { web: number; apiEast: number; apiWest: number };
  upstreams: { api: number; apiWest: number };
}

export interface DevMeshOptions {
  /** Progress lines (what is starting). */
  say: (line: string) => void;
  /** How long the whole start may take. @default 120000 */
  timeoutMs?: number;
  /** Base directory for tokens, certificates and logs. @default a new temp dir */
  dir?: string;
  /** Environment of every child process. @default this process's environment */
  env?: NodeJS.ProcessEnv;
  /**
   * Let the OS pick every port instead of trying the preferred ones first: for tests on a
   * shared machine, where a preferred port freed by a stopped child could be taken by
   * another mesh before the child is restarted. @default false
   */
  anyPorts?: boolean;
}

/** Preferred ports; any that is taken is replaced by a free one. */
const PREFERRED = {
  globalHttp: 7600,
  globalSync: 7601,
  eastHttp: 8500,
  eastXds: 7701,
  westHttp: 8510,
  westXds: 7711,
  eastGwPublic: 15443,
  eastGwLocal: 15444,
  eastGwAdmin: 15440,
  westGwPublic: 15453,
  westGwLocal: 15454,
  westGwAdmin: 15450,
  web: 8080,
  apiEast: 8081,
  apiWest: 8082,
  upstreamApi: 9001,
  upstreamApiWest: 9002,
};

export class DevMesh {
  readonly #options: DevMeshOptions;
  #children: Children | undefined;
  #failed: ((err: Error) => void) | undefined;
  readonly failure: Promise<Error>;
  dir = '';
  ports!: DevPorts;

  constructor(options: DevMeshOptions) {
    this.#options = options;
    this.failure = new Promise<Error>((resolve) => (this.#failed = resolve));
  }

  get children(): readonly RunningChild[] {
    return this.#children?.running ?? [];
  }

  async start(): Promise<void> {
    const say = this.#options.say;
    const deadline = Date.now() + (this.#options.timeoutMs ?? 120_000);
    this.dir = this.#options.dir ?? (await mkdtemp(path.join(tmpdir(), 'causeway-dev-')));
    this.#children = new Children(this.dir, (child, code) => {
      void logTail(child.logFile).then((tail) =>
        this.#failed?.(
          new Error(`${child.spec.name} exited (code ${code}); its last lines:\n${tail}`),
        ),
      );
    });
    this.ports = await allocatePorts(this.#options.anyPorts ?? false);
    const p = this.ports;
    const env = this.#options.env;
    const run = (name: string, ...args: string[]): RunningChild =>
      this.#start({
        name,
        command: process.execPath,
        args: [BIN, 'run', ...args],
        ...(env ? { env } : {}),
      });

    say(`global control plane on 127.0.0.1:${p.globalHttp} (zone sync ${p.globalSync})`);
    run(
      'global',
      'global',
      '--dev',
      '--data-dir',
      path.join(this.dir, 'global'),
      '--http-addr',
      `127.0.0.1:${p.globalHttp}`,
      '--sync-addr',
      `127.0.0.1:${p.globalSync}`,
    );
    const globalUrl = `http://127.0.0.1:${p.globalHttp}`;
    await this.#until(
      deadline,
      'global to serve',
      async () => (await get(`${globalUrl}/api/health`)).status === 200,
    );

    const rootsFile = path.join(this.dir, 'roots.pem');
    for (const zone of ['east', 'west'] as const) {
      const z = p.zones[zone];
      const created = await request('POST', `${globalUrl}/api/zones`, {
        name: zone,
        kind: 'universal',
      });
      if (created.status !== 201)
        throw new Error(`creating zone ${zone} at global: ${created.status} ${created.text}`);
      const tokenFile = path.join(this.dir, `${zone}.token`);
      await writeFile(tokenFile, (JSON.parse(created.text) as { token: string }).token, {
        mode: 0o600,
      });
      say(`zone ${zone} on 127.0.0.1:${z.http} (proxy stream ${z.xds})`);
      run(
        `zone-${zone}`,
        'zone',
        '--dev',
        '--name',
        zone,
        '--data-dir',
        path.join(this.dir, zone),
        '--http-addr',
        `127.0.0.1:${z.http}`,
        '--xds-addr',
        `127.0.0.1:${z.xds}`,
        '--global-addr',
        `wss://127.0.0.1:${p.globalSync}`,
        '--zone-token-file',
        tokenFile,
      );
    }
    for (const zone of ['east', 'west'] as const) {
      const zoneUrl = `http://127.0.0.1:${p.zones[zone].http}`;
      await this.#until(
        deadline,
        `zone ${zone} to join global`,
        async () => (await get(`${zoneUrl}/v1/status/leader`)).status === 200,
      );
      const exported = await request('PUT', `${zoneUrl}/v1/config`, {
        Kind: 'exported-services',
        Name: 'default',
        Services: [{ Name: 'api', Consumers: [{ Zone: '*' }] }],
      });
      if (exported.status !== 200)
        throw new Error(`exporting api in ${zone}: ${exported.status} ${exported.text}`);
      // HTTP, not TCP: per-request retries and outlier detection are what fail a call over
      // to the other zone within the request when an instance dies.
      for (const service of ['api', 'web']) {
        const defaults = await request('PUT', `${zoneUrl}/v1/config`, {
          Kind: 'service-defaults',
          Name: service,
          Protocol: 'http',
        });
        if (defaults.status !== 200)
          throw new Error(
            `service-defaults for ${service} in ${zone}: ${defaults.status} ${defaults.text}`,
          );
      }
    }
    const roots = await get(`http://127.0.0.1:${p.zones.east.http}/v1/connect/ca/roots?pem=true`);
    await writeFile(rootsFile, roots.text);

    for (const zone of ['east', 'west'] as const) {
      const z = p.zones[zone];
      say(
        `gateway ${zone}-gw: public 127.0.0.1:${z.gatewayPublic}, local 127.0.0.1:${z.gatewayLocal}`,
      );
      run(
        `gateway-${zone}`,
        'gateway',
        '--zone-control',
        `http://127.0.0.1:${z.http}`,
        '--name',
        `${zone}-gw`,
        '--public-listen',
        `127.0.0.1:${z.gatewayPublic}`,
        '--local-listen',
        `127.0.0.1:${z.gatewayLocal}`,
        '--admin-addr',
        `127.0.0.1:${z.gatewayAdmin}`,
      );
    }

    const app = (name: string, zone: string, port: number, ...extra: string[]): void => {
      this.#start({
        name: `app-${name}-${zone}`,
        command: process.execPath,
        args: [SAMPLE_APP, '--name', name, '--zone', zone, '--port', String(port), ...extra],
        ...(env ? { env } : {}),
      });
    };
    const sidecar = (
      service: string,
      zone: 'east' | 'west',
      appPort: number,
      ...extra: string[]
    ): void => {
      run(
        `proxy-${service}-${zone}`,
        'proxy',
        '--zone-control',
        `wss://127.0.0.1:${p.zones[zone].xds}`,
        '--ca-file',
        rootsFile,
        '--service',
        service,
        '--port',
        String(appPort),
        '--app-protocol',
        'http',
        '--inbound-address',
        '127.0.0.1',
        '--address',
        '127.0.0.1',
        '--inbound-port',
        '0',
        '--admin-addr',
        '127.0.0.1:0',
        ...extra,
      );
    };
    say(
      `apps: web (east) on 127.0.0.1:${p.apps.web}, api in east and in west, each behind a sidecar`,
    );
    app('api', 'east', p.apps.apiEast);
    app('api', 'west', p.apps.apiWest);
    app(
      'web',
      'east',
      p.apps.web,
      '--upstream',
      `api=http://127.0.0.1:${p.upstreams.api}`,
      '--upstream',
      `west=http://127.0.0.1:${p.upstreams.apiWest}`,
    );
    sidecar('api', 'east', p.apps.apiEast);
    sidecar('api', 'west', p.apps.apiWest);
    sidecar(
      'web',
      'east',
      p.apps.web,
      '--upstream',
      `api:${p.upstreams.api}`,
      '--upstream',
      `api@west:${p.upstreams.apiWest}`,
    );

    const webUrl = `http://127.0.0.1:${p.apps.web}`;
    await this.#until(
      deadline,
      'web → api (east)',
      async () => zoneOf(await get(`${webUrl}/`)) === 'east',
    );
    await this.#until(
      deadline,
      'web → api (west) across the gateways',
      async () => zoneOf(await get(`${webUrl}/?via=west`)) === 'west',
    );
  }

  async stop(): Promise<void> {
    await this.#children?.stopAll();
  }

  /**
   * One child by name (`global`, `zone-east`, `gateway-west`, `app-api-east`,
   * `proxy-web-east`…), the newest if it was restarted.
   */
  child(name: string): RunningChild | undefined {
    return this.#children?.find(name);
  }

  /** Stop one child (SIGTERM, then wait for it to exit); its exit is not a mesh failure. */
  async stopChild(name: string, graceMs?: number): Promise<void> {
    if (!this.#children) throw new Error('not started');
    await this.#children.stop(name, graceMs);
  }

  /** Start a stopped child again, same arguments (data dir, ports) and log file. */
  restartChild(name: string): RunningChild {
    if (!this.#children) throw new Error('not started');
    return this.#children.restart(name);
  }

  #start(spec: ChildSpec): RunningChild {
    if (!this.#children) throw new Error('not started');
    return this.#children.start(spec);
  }

  async #until(deadline: number, what: string, check: () => Promise<boolean>): Promise<void> {
    let failure: Error | undefined;
    void this.failure.then((err) => (failure = err));
    for (;;) {
      if (failure) throw failure;
      try {
        if (await check()) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; logs are in ${this.dir}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

function zoneOf(reply: { status: number; text: string }): string | undefined {
  if (reply.status !== 200) return undefined;
  try {
    return (JSON.parse(reply.text) as { upstream?: { answer?: { zone?: string } } }).upstream
      ?.answer?.zone;
  } catch {
    return undefined;
  }
}

async function get(url: string): Promise<{ status: number; text: string }> {
  return request('GET', url);
}

async function request(
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method,
    signal: AbortSignal.timeout(5000),
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return { status: res.status, text: await res.text() };
}

/** Each preferred port if it is free now (and wanted), otherwise one the OS picks. */
async function allocatePorts(anyPorts: boolean): Promise<DevPorts> {
  const taken = new Set<number>();
  const port = async (preferred: number): Promise<number> => {
    const chosen =
      !anyPorts && !taken.has(preferred) && (await isFree(preferred))
        ? preferred
        : await freePort(taken);
    taken.add(chosen);
    return chosen;
  };
  const x = PREFERRED;
  return {
    globalHttp: await port(x.globalHttp),
    globalSync: await port(x.globalSync),
    zones: {
      east: {
        http: await port(x.eastHttp),
        xds: await port(x.eastXds),
        gatewayPublic: await port(x.eastGwPublic),
        gatewayLocal: await port(x.eastGwLocal),
        gatewayAdmin: await port(x.eastGwAdmin),
      },
      west: {
        http: await port(x.westHttp),
        xds: await port(x.westXds),
        gatewayPublic: await port(x.westGwPublic),
        gatewayLocal: await port(x.westGwLocal),
        gatewayAdmin: await port(x.westGwAdmin),
      },
    },
    apps: {
      web: await port(x.web),
      apiEast: await port(x.apiEast),
      apiWest: await port(x.apiWest),
    },
    upstreams: { api: await port(x.upstreamApi), apiWest: await port(x.upstreamApiWest) },
  };
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freePort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const p = (server.address() as net.AddressInfo).port;
        server.close(() => resolve(p));
      });
    });
    if (!taken.has(port)) return port;
  }
}

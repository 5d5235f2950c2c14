/**
 * The mesh end to end in one zone, with every proxy a real `causeway run proxy` child
 * process programmed by a real zone (ACLs on, dataplane tokens, embedded store in a data
 * dir): web calls backend (two instances, HTTP) and db (TCP) through its outbound
 * listeners, over mTLS to their inbound listeners. Intentions change what is allowed
 * while traffic runs; a root rotation under load drops no request; with the zone stopped
 * the proxies keep serving, and when it returns they pick up changes again.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { eventually, sleep, withTimeout } from '../helpers/async.ts';
import { TEST_TRUST_DOMAIN } from '../helpers/ca.ts';
import { proxyReady, runProxy, stopProxy } from '../helpers/proxy-process.ts';
import type { ProxyProcess } from '../helpers/proxy-process.ts';
import { startZone } from '../helpers/zone.ts';
import type { TestZone } from '../helpers/zone.ts';
import { freePort } from '../helpers/ports.ts';
import { startHttpApp, startTcpEcho } from '../proxy/fixtures/local-apps.ts';
import type { HttpApp, TcpApp } from '../proxy/fixtures/local-apps.ts';
import type { ZoneOptions } from '../../zone-control/index.ts';

const ROOT = '5c0a1b2c-3d4e-4f5a-8b6c-7d8e9f0a1b2c';
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

interface Overview {
  rotation: { phase: 2 | 4 | 'complete'; toRootId: string } | null;
  activeRootId: string;
}

describe('mesh through real proxies and a real zone (e2e)', function () {
  this.timeout(60_000);
  let dir: string;
  let zoneOptions: ZoneOptions;
  let zone: TestZone | undefined;
  const apps: { backend: HttpApp[]; web?: HttpApp; db?: TcpApp } = { backend: [] };
  const proxies: ProxyProcess[] = [];
  let backendPort: number;
  let dbPort: number;
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 8 });

  const api = async (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${zone!.url}${path}`, {
      ...init,
      headers: { 'X-Consul-Token': ROOT, ...(init.headers as Record<string, string>) },
    });

  /** GET through web's outbound listener for backend. */
  const callBackend = (path = '/'): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = http.get(
        { host: '127.0.0.1', port: backendPort, path, agent: keepAlive },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    });

  async function startProxy(service: string, appPort: number, extra: string[]): Promise<void> {
    const issued = await api('/api/dataplane-tokens', {
      method: 'POST',
      body: JSON.stringify({ service }),
    });
    expect(issued.status, `dataplane token for ${service}`).to.equal(201);
    const tokenFile = join(dir, `${service}-${proxies.length}.token`);
    writeFileSync(tokenFile, ((await issued.json()) as { secretId: string }).secretId, {
      mode: 0o600,
    });
    const proxy = await runProxy([
      ...['--zone-control', `wss://127.0.0.1:${zone!.zone.proxyStream.address().port}`],
      ...['--token-file', tokenFile, '--ca-file', join(dir, 'roots.pem')],
      ...['--service', service, '--port', String(appPort)],
      ...['--inbound-port', '0', '--inbound-address', '127.0.0.1', '--address', '127.0.0.1'],
      ...['--admin-addr', '127.0.0.1:0', '--instance-id', `${service}-${proxies.length}`],
      ...['--health-interval', '1s'],
      ...extra,
    ]);
    proxies.push(proxy);
    await proxyReady(proxy);
  }

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'causeway-e2e-mesh-'));
    zoneOptions = {
      dev: false,
      bootstrapToken: ROOT,
      dataDir: join(dir, 'zone'),
      httpAddr: `127.0.0.1:${await freePort()}`,
      xdsAddr: `127.0.0.1:${await freePort()}`,
      // Short leaves: every proxy renews several times during the test, and a root
      // rotation completes once the old root's leaves have expired.
      leafTtl: '10s',
      proxyConfigDebounce: 20,
    };
    zone = await startZone(zoneOptions);
    const bundle = (await (await api('/api/ca/bundle')).json()) as { roots: string[] };
    writeFileSync(join(dir, 'roots.pem'), bundle.roots.join('\n'));

    // backend speaks HTTP, so web's outbound listener for it routes per request (set
    // before web starts: a protocol change rebinds the listener and drops its connections).
    const defaults = await api('/v1/config', {
      method: 'PUT',
      body: JSON.stringify({ Kind: 'service-defaults', Name: 'backend', Protocol: 'http' }),
    });
    expect(defaults.status).to.equal(200);

    apps.backend = [await startHttpApp(), await startHttpApp()];
    apps.web = await startHttpApp();
    apps.db = await startTcpEcho();
    backendPort = await freePort();
    dbPort = await freePort();
    for (const app of apps.backend) {
      await startProxy('backend', app.port, ['--app-protocol', 'http']);
    }
    await startProxy('db', apps.db.port, ['--app-protocol', 'tcp']);
    await startProxy('web', apps.web.port, [
      ...['--app-protocol', 'http'],
      ...['--upstream', `backend:${backendPort}`, '--upstream', `db:${dbPort}`],
    ]);
  });

  after(async function () {
    this.timeout(60_000);
    keepAlive.destroy();
    await Promise.all(proxies.map((p) => stopProxy(p).catch(() => undefined)));
    await zone?.stop();
    const running = [...apps.backend, apps.web, apps.db].filter((a) => a !== undefined);
    await Promise.all(running.map((a) => a.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('calls backend over mTLS through both proxies, spread over its two instances', async function () {
    await eventually(
      async () => (await callBackend().catch(() => undefined))?.status === 200,
      'web to reach backend',
      20_000,
      100,
    );
    const seenBefore = apps.backend.map((a) => a.seen.length);
    for (let i = 0; i < 20; i++) {
      const res = await callBackend(`/hello/${i}`);
      expect(res.status, res.body).to.equal(200);
      const seen = JSON.parse(res.body) as { headers: Record<string, string> };
      expect(seen.headers['x-causeway-source']).to.equal(
        `spiffe://${TEST_TRUST_DOMAIN}/zone/test/ns/default/svc/web`,
      );
      expect(seen.headers.traceparent).to.match(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
    }
    const served = apps.backend.map((a, i) => a.seen.length - (seenBefore[i] ?? 0));
    expect(served[0]! + served[1]!).to.equal(20);
    // Round robin over two healthy instances.
    expect(served[0]).to.be.within(8, 12);
  });

  it('carries TCP to db through its proxy', async function () {
    const echoed = await eventually(
      async () => {
        const socket = net.connect(dbPort, '127.0.0.1');
        try {
          await once(socket, 'connect');
          socket.write('ping over the mesh');
          const [data] = (await withTimeout(once(socket, 'data'), 5_000, 'the echo')) as [Buffer];
          return data.toString();
        } catch {
          return undefined;
        } finally {
          socket.destroy();
        }
      },
      'the db echo',
      20_000,
      200,
    );
    expect(echoed).to.equal('ping over the mesh');
  });

  it('applies intentions while traffic runs: deny answers 403, allow serves again', async function () {
    const put = async (action: 'allow' | 'deny'): Promise<void> => {
      const res = await api('/v1/config', {
        method: 'PUT',
        body: JSON.stringify({
          Kind: 'service-intentions',
          Name: 'backend',
          Sources: [{ Name: 'web', Action: action }],
        }),
      });
      expect(res.status).to.equal(200);
    };
    await put('deny');
    const denied = await eventually(
      async () => {
        const res = await callBackend();
        return res.status === 403 ? res : undefined;
      },
      'the deny to reach backend proxies',
      20_000,
      100,
    );
    expect(denied.body).to.match(/denied/i);
    await put('allow');
    await eventually(
      async () => (await callBackend()).status === 200,
      'the allow to reach backend proxies',
      20_000,
      100,
    );
  });

  it('drops no request while the zone rotates its root under load', async function () {
    const overview = async (): Promise<Overview> =>
      (await (await api('/api/ca')).json()) as Overview;
    const before = await overview();
    let stop = false;
    const failures: string[] = [];
    let ok = 0;
    const loops = Array.from({ length: 4 }, async () => {
      while (!stop) {
        try {
          const res = await callBackend('/load');
          if (res.status === 200) ok++;
          else failures.push(`${res.status} ${res.body}`);
        } catch (err) {
          failures.push(String(err));
        }
      }
    });
    try {
      await sleep(500);
      const started = await api('/api/ca/rotation', { method: 'POST' });
      expect(started.status, 'POST /api/ca/rotation').to.equal(201);
      const newRoot = ((await started.json()) as Overview).rotation?.toRootId;
      // Phase 2 waits for every proxy to ACK the new bundle; phase 4 for the old root's
      // last leaf (10 s) to expire.
      const done = await eventually(
        async () => {
          const now = await overview();
          return now.rotation?.phase === 'complete' ? now : undefined;
        },
        'the rotation to complete',
        45_000,
        250,
      );
      expect(done.activeRootId).to.equal(newRoot).and.not.equal(before.activeRootId);
      // Traffic after the old root left every bundle.
      await sleep(1000);
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    log.info({ ok, failures: failures.length }, 'requests through a root rotation');
    expect(failures, failures.slice(0, 5).join('\n')).to.deep.equal([]);
    expect(ok).to.be.above(50);
  });

  it('keeps serving while the zone is down and picks up changes when it returns', async function () {
    await zone!.stop();
    zone = undefined;
    // Long enough for every proxy to notice and start reconnecting with backoff.
    for (let i = 0; i < 10; i++) {
      expect((await callBackend()).status).to.equal(200);
      await sleep(150);
    }

    zone = await startZone(zoneOptions);
    // Every proxy reconnects (with backoff) and is registered and ACKing again.
    await eventually(
      async () => {
        const { proxies: statuses } = (await (await api('/api/proxies')).json()) as {
          proxies: { instanceId: string; connected: boolean; configAckedVersion: number }[];
        };
        const live = statuses.filter((s) => s.connected && s.configAckedVersion > 0);
        return live.length === proxies.length;
      },
      'every proxy to reconnect and ACK a config',
      40_000,
      250,
    );
    const res = await api('/v1/config', {
      method: 'PUT',
      body: JSON.stringify({
        Kind: 'service-intentions',
        Name: 'backend',
        Sources: [{ Name: 'web', Action: 'deny' }],
      }),
    });
    expect(res.status).to.equal(200);
    await eventually(
      async () => (await callBackend()).status === 403,
      'the change made after the restart to reach the proxies',
      20_000,
      100,
    );
  });
});

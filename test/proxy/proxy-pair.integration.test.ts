/**
 * Two proxies assembled as `causeway run proxy --bootstrap` builds them, in this process:
 * app → web's outbound listener → mTLS → api's inbound → api's app, for HTTP and TCP;
 * api's authorization seen through the pair; and leaves rotated on both sides while
 * requests flow, without a failed request.
 */
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { runComponents } from '../../core/index.ts';
import { createProxy } from '../../proxy/src/proxy.ts';
import type { Proxy } from '../../proxy/src/proxy.ts';
import { resolveProxyOptions } from '../../proxy/src/options.ts';
import { echoRoundTrip } from '../helpers/mesh-participant.ts';
import { freePort } from '../helpers/ports.ts';
import { writeBootstrap } from './fixtures/bootstrap-files.ts';
import { startHttpApp, startTcpEcho } from './fixtures/local-apps.ts';
import type { HttpApp, TcpApp } from './fixtures/local-apps.ts';
import { TestCa } from '../helpers/test-ca.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

function endpoint(port: number, instanceId: string) {
  return {
    address: '127.0.0.1',
    port,
    zone: 'test',
    priority: 0,
    health: 'passing',
    weight: 1,
    instanceId,
  };
}

function get(
  port: number,
  path: string,
  agent: http.Agent,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

describe('a pair of proxies (integration)', function () {
  this.timeout(60_000);
  let dir: string;
  let ca: TestCa;
  let httpApp: HttpApp;
  let tcpApp: TcpApp;
  const proxies: { proxy: Proxy; stop: AbortController; running: Promise<void> }[] = [];
  let apiPort: number;
  let dbPort: number;
  let web: Proxy;
  let api: Proxy;

  async function start(file: string): Promise<Proxy> {
    const proxy = await createProxy(
      resolveProxyOptions({ bootstrap: file, accessLog: false }),
      logger,
    );
    const stop = new AbortController();
    const running = runComponents(proxy.components(), {
      logger,
      signal: stop.signal,
      installSignals: () => () => undefined,
      drainTimeoutMs: 5000,
    });
    running.catch(() => undefined);
    proxies.push({ proxy, stop, running });
    await proxy.dataPlane.ready?.();
    return proxy;
  }

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'causeway-proxy-pair-'));
    ca = await TestCa.create();
    httpApp = await startHttpApp();
    tcpApp = await startTcpEcho();
    const apiFiles = await writeBootstrap(join(dir, 'api'), ca, {
      service: 'api',
      appPort: httpApp.port,
      protocol: 'http',
      authorization: {
        defaultAction: 'allow',
        rules: [{ action: 'deny', source: { service: 'web' }, http: [{ pathPrefix: '/admin' }] }],
      },
    });
    const dbFiles = await writeBootstrap(join(dir, 'db'), ca, {
      service: 'db',
      appPort: tcpApp.port,
      protocol: 'tcp',
    });
    [apiPort, dbPort] = [await freePort(), await freePort()];
    const webFiles = await writeBootstrap(join(dir, 'web'), ca, {
      service: 'web',
      appPort: 1,
      outbound: [
        {
          name: 'api',
          port: apiPort,
          protocol: 'http',
          routes: [{ destinations: [{ cluster: 'api' }] }],
        },
        {
          name: 'db',
          port: dbPort,
          protocol: 'tcp',
          routes: [{ destinations: [{ cluster: 'db' }] }],
        },
      ],
      clusters: [
        { name: 'api', service: 'api', endpoints: [endpoint(apiFiles.inboundPort, 'api-1')] },
        { name: 'db', service: 'db', endpoints: [endpoint(dbFiles.inboundPort, 'db-1')] },
      ],
    });
    api = await start(apiFiles.file);
    await start(dbFiles.file);
    web = await start(webFiles.file);
  });
  after(async function () {
    for (const p of proxies.reverse()) {
      p.stop.abort();
      await p.running;
    }
    await httpApp?.close();
    await tcpApp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries HTTP over mTLS, telling the app which service called', async function () {
    const agent = new http.Agent({ keepAlive: true });
    try {
      const res = await get(apiPort, '/orders/1', agent);
      expect(res.status).to.equal(200);
      const seen = JSON.parse(res.body) as { url: string; headers: Record<string, string> };
      expect(seen.url).to.equal('/orders/1');
      expect(seen.headers['x-causeway-source']).to.equal(
        'spiffe://causeway.mesh/zone/test/ns/default/svc/web',
      );
      const denied = await get(apiPort, '/admin/keys', agent);
      expect(denied.status).to.equal(403);
      expect(denied.body).to.contain('rule 0 (deny)');
    } finally {
      agent.destroy();
    }
  });

  it('carries TCP over mTLS', async function () {
    const socket = net.connect({ host: '127.0.0.1', port: dbPort });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    try {
      await echoRoundTrip(
        socket as unknown as Parameters<typeof echoRoundTrip>[0],
        'through two proxies',
      );
    } finally {
      socket.destroy();
    }
  });

  it('drops no request while both sides rotate their leaves under load', async function () {
    // Each round gets a fresh client pool, so new connections (through new handshakes on
    // both hops) start while the old ones finish what they carry.
    const agents = [new http.Agent({ keepAlive: true, maxSockets: 8 })];
    let stop = false;
    const statuses: number[] = [];
    const errors: string[] = [];
    const worker = async () => {
      while (!stop) {
        try {
          const r = await get(apiPort, '/load', agents.at(-1)!);
          statuses.push(r.status);
          if (r.status !== 200) errors.push(`${r.status} ${r.body}`);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, worker));
    const serials = new Set<string>();
    try {
      for (let round = 0; round < 3; round++) {
        await new Promise((r) => setTimeout(r, 150));
        for (const [proxy, service] of [
          [api, 'api'],
          [web, 'web'],
        ] as const) {
          const leaf = await ca.leaf(service);
          serials.add(leaf.serial);
          proxy.tls.update({ ...leaf, roots: [ca.rootPem], revokedSerials: [] });
        }
        agents.push(new http.Agent({ keepAlive: true, maxSockets: 8 }));
      }
      await new Promise((r) => setTimeout(r, 150));
    } finally {
      stop = true;
      await load;
      for (const a of agents) a.destroy();
    }
    expect(serials.size).to.equal(6);
    expect(errors).to.deep.equal([]);
    expect(statuses.length).to.be.greaterThan(20);
    expect(statuses.filter((s) => s !== 200)).to.deep.equal([]);
  });
});

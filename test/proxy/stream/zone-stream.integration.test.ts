/**
 * The proxy on a real zone's config stream: it connects, gets a leaf and the bundle for
 * its CSR and ACKs them (visible in the zone's /api/proxies), reports its app's health,
 * keeps serving with its certificate while the zone is stopped, reconnects with backoff
 * when the zone comes back on the same port, and gets a fresh leaf.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { pino } from 'pino';
import { normalizeSerial, runComponents } from '../../../core/index.ts';
import { createProxy } from '../../../proxy/src/proxy.ts';
import type { Proxy, ProxyDeps } from '../../../proxy/src/proxy.ts';
import { resolveProxyOptions } from '../../../proxy/src/options.ts';
import type { ProxyOptions } from '../../../proxy/src/options.ts';
import { eventually, withTimeout } from '../../helpers/async.ts';
import { workloadId } from '../../helpers/ca.ts';
import { echoRoundTrip } from '../../helpers/mesh-participant.ts';
import { startZone } from '../../helpers/zone.ts';
import type { TestZone } from '../../helpers/zone.ts';
import { startTcpEcho } from '../fixtures/local-apps.ts';
import type { TcpApp } from '../fixtures/local-apps.ts';
import { closed, meshConnect } from '../fixtures/mesh-client.ts';
import { serialOf } from '../../helpers/test-ca.ts';
import type { TestLeaf } from '../../helpers/test-ca.ts';
import { createCsr, generateKeyPair, privateKeyToPem } from '../../../core/index.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

interface ProxyStatusBody {
  proxies: { instanceId: string; connected: boolean; acked: Record<string, number> }[];
}

async function proxyStatus(zone: TestZone, instanceId: string) {
  const body = (await (await fetch(`${zone.url}/api/proxies`)).json()) as ProxyStatusBody;
  return body.proxies.find((p) => p.instanceId === instanceId);
}

/** A client leaf for `service` from the zone's CA, in the shape the mesh client takes. */
async function clientLeaf(zone: TestZone, service: string): Promise<TestLeaf> {
  const keyPair = await generateKeyPair();
  const spiffeId = workloadId(service);
  const res = await fetch(`${zone.url}/api/ca/leaf`, {
    method: 'POST',
    body: JSON.stringify({ spiffeId, csr: createCsr({ keyPair, spiffeId }) }),
  });
  const body = (await res.json()) as { certificatePem: string; chainPem: string; serial: string };
  return { spiffeId, ...body, keyPem: privateKeyToPem(keyPair.privateKey) };
}

/**
 * A proxy joining `zone` (trusting its bundle, written to `dir`), with its inbound and
 * admin listeners on any free 127.0.0.1 port, running until `signal` aborts.
 */
async function joinZone(
  zone: TestZone,
  dir: string,
  options: Omit<ProxyOptions, 'zoneControl' | 'caFile'>,
  signal: AbortSignal,
  deps: ProxyDeps = {},
): Promise<{ proxy: Proxy; running: Promise<void> }> {
  const bundle = (await (await fetch(`${zone.url}/api/ca/bundle`)).json()) as { roots: string[] };
  writeFileSync(join(dir, 'roots.pem'), bundle.roots.join('\n'));
  const proxy = await createProxy(
    resolveProxyOptions({
      zoneControl: `wss://127.0.0.1:${zone.zone.proxyStream.address().port}`,
      caFile: join(dir, 'roots.pem'),
      inboundPort: 0,
      inboundAddress: '127.0.0.1',
      adminAddr: '127.0.0.1:0',
      ...options,
    }),
    logger,
    deps,
  );
  const running = runComponents(proxy.components(), {
    logger,
    signal,
    installSignals: () => () => undefined,
    drainTimeoutMs: 5000,
  });
  return { proxy, running };
}

describe('proxy on a zone config stream (integration)', function () {
  this.timeout(60_000);
  let dir: string;
  let zone: TestZone | undefined;
  let app: TcpApp;
  let proxy: Proxy;
  const stop = new AbortController();
  let running: Promise<void>;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'causeway-proxy-stream-'));
    zone = await startZone({ dataDir: join(dir, 'zone') });
    app = await startTcpEcho();
    ({ proxy, running } = await joinZone(
      zone,
      dir,
      {
        service: 'web',
        port: app.port,
        address: '127.0.0.1',
        instanceId: 'web-1',
        healthCheck: 'tcp',
        healthInterval: '200ms',
      },
      stop.signal,
      { stream: { backoffBaseMs: 100, backoffMaxMs: 500 } },
    ));
    running.catch(() => undefined);
  });
  after(async function () {
    stop.abort();
    await running;
    await zone?.stop();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets a leaf, the bundle and its config for its hello and ACKs all three', async function () {
    await eventually(() => proxy.tls.ready(), 'a leaf to be installed');
    const status = await eventually(async () => {
      const s = await proxyStatus(zone!, 'web-1');
      return s?.acked.leaf && s.acked.bundle && s.acked.config ? s : undefined;
    }, 'the zone to record the ACKs');
    const applied = proxy.dataPlane.applied!;
    expect(applied.version).to.equal(status.acked.config);
    expect(applied.config).to.deep.include({ service: 'web', zone: 'test' });
    expect(applied.config.inbound.port).to.equal(proxy.dataPlane.inboundPort());
    expect(status.connected).to.equal(true);
    const material = proxy.tls.material()!;
    expect(new X509Certificate(material.certificatePem).subjectAltName).to.equal(
      `URI:${workloadId('web')}`,
    );
    expect(proxy.zoneClient!.status()).to.include({ connected: true, connects: 1 });
  });

  it('keeps serving with its certificate while the zone is down, and reconnects when it returns', async function () {
    const client = await clientLeaf(zone!, 'client');
    const roots = [...proxy.tls.material()!.roots];
    const before = serialOf(proxy.tls.material()!.certificatePem);
    const port = proxy.dataPlane.inboundPort()!;
    const xdsPort = zone!.zone.proxyStream.address().port;
    const httpPort = zone!.port;

    await zone!.stop();
    zone = undefined;
    await eventually(
      () => !proxy.zoneClient!.status().connected,
      'the stream to notice the zone left',
    );
    // Backoff is running; the inbound listener serves with the leaf it has.
    const during = await meshConnect({ port, leaf: client, roots, server: workloadId('web') });
    await echoRoundTrip(during, 'zone is down');
    during.destroy();
    await new Promise((r) => setTimeout(r, 700));
    expect(proxy.zoneClient!.status().lastError).to.be.a('string');

    zone = await startZone({
      dataDir: join(dir, 'zone'),
      httpAddr: `127.0.0.1:${httpPort}`,
      xdsAddr: `127.0.0.1:${xdsPort}`,
    });
    await eventually(
      () => proxy.zoneClient!.status().connects >= 2,
      'the proxy to reconnect',
      20_000,
    );
    await eventually(
      () => serialOf(proxy.tls.material()!.certificatePem) !== before,
      'a fresh leaf from the new hello',
    );
    await eventually(
      async () => (await proxyStatus(zone!, 'web-1'))?.acked.bundle,
      'the ACK on the new stream',
    );
    const after = await meshConnect({ port, leaf: client, roots, server: workloadId('web') });
    await echoRoundTrip(after, 'zone is back');
    after.destroy();
  });

  it('reports its app health to the zone as a check on the instance', async function () {
    const check = await eventually(async () => {
      const checks = (await (await fetch(`${zone!.url}/v1/health/checks/web`)).json()) as {
        CheckID: string;
        Status: string;
        Output: string;
      }[];
      return checks.find((c) => c.CheckID === 'proxy:web-1:app' && c.Status === 'passing');
    }, 'the app check in the catalog');
    expect(check.Output).to.contain(`TCP connect 127.0.0.1:${app.port}: Success`);
  });

  it('answers /ready and /config_dump on the admin port without key material', async function () {
    const { port } = proxy.admin.address();
    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    expect(ready.status).to.equal(200);
    const dump = await (await fetch(`http://127.0.0.1:${port}/config_dump`)).text();
    expect(dump).not.to.contain('PRIVATE KEY');
    const body = JSON.parse(dump) as {
      mode: string;
      identity: { spiffeId: string };
      stream: { connected: boolean };
    };
    expect(body.mode).to.equal('stream');
    expect(body.identity.spiffeId).to.equal(workloadId('web'));
    expect(body.stream.connected).to.equal(true);
  });

  it('closes an open inbound connection when the zone revokes the caller leaf', async function () {
    const client = await clientLeaf(zone!, 'client');
    const roots = [...proxy.tls.material()!.roots];
    const socket = await meshConnect({
      port: proxy.dataPlane.inboundPort()!,
      leaf: client,
      roots,
      server: workloadId('web'),
    });
    await echoRoundTrip(socket, 'before revocation');
    const revoked = await fetch(`${zone!.url}/api/ca/revocations`, {
      method: 'POST',
      body: JSON.stringify({ serial: client.serial, reason: 'test' }),
    });
    expect(revoked.status).to.equal(201);
    await withTimeout(closed(socket), 10_000, 'the revoked connection to close');
    expect(proxy.tls.material()!.revokedSerials).to.include(normalizeSerial(client.serial));
  });

  it('leaves on shutdown: the zone deregisters the instance at once', async function () {
    const instances = async () =>
      ((await (await fetch(`${zone!.url}/v1/catalog/service/web`)).json()) as unknown[]).length;
    expect(await instances()).to.equal(1);
    stop.abort();
    await running;
    await eventually(async () => (await instances()) === 0, 'web-1 to be deregistered', 5000);
  });
});

describe('proxy leaf renewal over the stream (integration)', function () {
  this.timeout(60_000);

  it('renews its leaf with a csr frame on the open stream before it expires', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'causeway-proxy-renew-'));
    const zone = await startZone({ leafTtl: '4s' });
    const app = await startTcpEcho();
    const stop = new AbortController();
    let running: Promise<void> | undefined;
    try {
      const joined = await joinZone(
        zone,
        dir,
        { service: 'web', port: app.port, healthCheck: 'none' },
        stop.signal,
      );
      running = joined.running;
      const proxy = joined.proxy;
      await eventually(() => proxy.tls.ready(), 'the first leaf');
      const first = serialOf(proxy.tls.material()!.certificatePem);
      await eventually(
        () => serialOf(proxy.tls.material()!.certificatePem) !== first,
        'a renewed leaf',
        15_000,
      );
      // Renewed on the same stream, not by reconnecting.
      expect(proxy.zoneClient!.status().connects).to.equal(1);
    } finally {
      stop.abort();
      await running;
      await zone.stop();
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('proxy with a bad dataplane token (integration)', function () {
  this.timeout(30_000);

  it('reports the zone refusal of its token and is not ready', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'causeway-proxy-token-'));
    const zone = await startZone({
      dev: false,
      bootstrapToken: '9d1c2b3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d',
    });
    const stop = new AbortController();
    let running: Promise<void> | undefined;
    try {
      const joined = await joinZone(
        zone,
        dir,
        {
          token: '00000000-0000-0000-0000-000000000000',
          service: 'web',
          port: 1,
          healthCheck: 'none',
        },
        stop.signal,
        { stream: { backoffBaseMs: 50, backoffMaxMs: 100 } },
      );
      running = joined.running;
      const proxy = joined.proxy;
      await eventually(() => proxy.zoneClient!.status().lastError, 'a refusal');
      expect(proxy.zoneClient!.status().lastError).to.equal(
        'the zone refused the stream: HTTP 401 the token is not valid',
      );
      expect(proxy.readiness().ready).to.equal(false);
    } finally {
      stop.abort();
      await running;
      await zone.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import net from 'node:net';
import { expect } from 'chai';
import { pino } from 'pino';
import { AdminServer } from '../../../proxy/src/admin/admin-server.ts';
import type { Readiness } from '../../../proxy/src/admin/admin-server.ts';
import { ProxyMetrics } from '../../../proxy/src/metrics.ts';

describe('proxy admin API (integration)', function () {
  let readiness: Readiness = { ready: false, reasons: ['no certificate yet', 'no config yet'] };
  const metrics = new ProxyMetrics();
  const ac = new AbortController();
  const admin = new AdminServer(
    { host: '127.0.0.1', port: 0 },
    {
      readiness: () => readiness,
      configDump: () => ({ version: 3 }),
      clusters: () => Promise.resolve({ clusters: [{ name: 'backend' }] }),
      prometheus: async () => ({
        contentType: metrics.registry.contentType,
        body: await metrics.registry.metrics(),
      }),
      statsJson: () => metrics.registry.getMetricsAsJSON(),
    },
    pino({ level: 'silent' }),
  );
  let running: Promise<void>;
  let base: string;

  before(async function () {
    running = admin.start(ac.signal);
    await admin.ready();
    base = `http://127.0.0.1:${admin.address().port}`;
  });
  after(async function () {
    ac.abort();
    await running;
  });

  it('answers /ready 503 with the reasons until ready, then 200', async function () {
    const before = await fetch(`${base}/ready`);
    expect(before.status).to.equal(503);
    expect(await before.json()).to.deep.equal(readiness);
    readiness = { ready: true, reasons: [] };
    expect((await fetch(`${base}/ready`)).status).to.equal(200);
  });

  it('serves the config dump, clusters and metrics in both formats', async function () {
    expect(await (await fetch(`${base}/config_dump`)).json()).to.deep.equal({ version: 3 });
    expect(await (await fetch(`${base}/clusters`)).json()).to.deep.equal({
      clusters: [{ name: 'backend' }],
    });
    metrics.configVersion.set(3);
    const prom = await fetch(`${base}/stats/prometheus`);
    expect(prom.headers.get('content-type')).to.match(/^text\/plain/);
    expect(await prom.text()).to.match(/^causeway_proxy_config_version 3$/m);
    const stats = (await (await fetch(`${base}/stats`)).json()) as { name: string }[];
    expect(stats.map((m) => m.name)).to.include('causeway_proxy_requests_total');
  });

  it('answers unknown paths 404 and other methods 405, as JSON errors', async function () {
    const missing = await fetch(`${base}/listeners`);
    expect(missing.status).to.equal(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).to.equal(
      'CW_ERR_NOT_FOUND',
    );
    const post = await fetch(`${base}/ready`, { method: 'POST' });
    expect(post.status).to.equal(405);
    expect(post.headers.get('allow')).to.equal('GET, HEAD');
  });

  it('answers 400 to a request target that does not parse, and keeps serving', async function () {
    const socket = net.connect(admin.address().port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.end('GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString('latin1')).to.match(/^HTTP\/1\.1 400 /);
    expect((await fetch(`${base}/ready`)).status).to.be.oneOf([200, 503]);
  });
});

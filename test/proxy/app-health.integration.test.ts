import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { pino } from 'pino';
import { AppHealth } from '../../proxy/src/app-health.ts';
import type { AppHealthResult } from '../../proxy/src/app-health.ts';
import type { HealthCheckSpec } from '../../proxy/src/options.ts';
import { eventually } from '../helpers/async.ts';
import { freePort } from '../helpers/ports.ts';

const logger = pino({ level: 'silent' });

describe('app health check (integration)', function () {
  this.timeout(20_000);
  let server: http.Server;
  let port: number;
  let status = 200;

  before(async function () {
    server = http.createServer((_req, res) => res.writeHead(status).end(`status ${status}`));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(async function () {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function checker(spec: HealthCheckSpec, appPort = port, reports: AppHealthResult[] = []) {
    return new AppHealth({
      spec,
      app: { address: '127.0.0.1', port: appPort },
      intervalMs: 50,
      onChange: (r) => reports.push(r),
      logger,
    });
  }

  it('maps HTTP 2xx to passing, 429 to warning and anything else to critical', async function () {
    const h = checker({ kind: 'http', url: `http://127.0.0.1:${port}/health` });
    for (const [code, expected] of [
      [200, 'passing'],
      [204, 'passing'],
      [429, 'warning'],
      [503, 'critical'],
    ] as const) {
      status = code;
      const result = await h.checkNow();
      expect(result.status, `HTTP ${code}`).to.equal(expected);
      expect(result.output).to.contain(`HTTP GET http://127.0.0.1:${port}/health: ${code}`);
    }
    status = 200;
  });

  it('is critical when the app does not answer, over HTTP or TCP', async function () {
    const closed = await freePort();
    const httpResult = await checker(
      { kind: 'http', url: `http://127.0.0.1:${closed}/` },
      closed,
    ).checkNow();
    expect(httpResult).to.deep.equal({
      status: 'critical',
      output: `HTTP GET http://127.0.0.1:${closed}/: ECONNREFUSED`,
    });
    const tcp = await checker({ kind: 'tcp' }, closed).checkNow();
    expect(tcp).to.deep.equal({
      status: 'critical',
      output: `TCP connect 127.0.0.1:${closed}: ECONNREFUSED`,
    });
    expect((await checker({ kind: 'tcp' }).checkNow()).status).to.equal('passing');
    expect((await checker({ kind: 'none' }).checkNow()).status).to.equal('passing');
  });

  it('reports only changes while it runs', async function () {
    const reports: AppHealthResult[] = [];
    const h = checker({ kind: 'http', url: `http://127.0.0.1:${port}/` }, port, reports);
    const ac = new AbortController();
    const running = h.start(ac.signal);
    await eventually(() => reports.length === 1, 'the first report');
    await new Promise((r) => setTimeout(r, 300));
    expect(reports).to.have.length(1);
    status = 500;
    await eventually(() => reports.length === 2, 'the change to critical');
    expect(reports[1]?.status).to.equal('critical');
    status = 200;
    await eventually(() => reports.length === 3, 'the change back to passing');
    ac.abort();
    await running;
  });
});

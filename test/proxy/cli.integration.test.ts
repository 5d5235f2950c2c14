/**
 * `causeway run proxy --bootstrap` as a real child process: it starts, answers `/ready`,
 * forwards mTLS requests through its inbound listener to the app, and exits 0 on
 * SIGTERM; with `--workers 2` the same, with metrics summed over the workers, a crashed
 * worker replaced, and TLS sessions resumed across workers.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { eventually, withTimeout } from '../helpers/async.ts';
import { childEnv } from '../helpers/child-env.ts';
import { workloadId } from '../helpers/ca.ts';
import { proxyReady, runProxy, stopProxy } from '../helpers/proxy-process.ts';
import type { ProxyProcess } from '../helpers/proxy-process.ts';
import { TestCa } from '../helpers/test-ca.ts';
import { startZone } from '../helpers/zone.ts';
import { createCsr, generateKeyPair, privateKeyToPem } from '../../core/index.ts';
import { freePort } from '../helpers/ports.ts';
import { writeBootstrap } from './fixtures/bootstrap-files.ts';
import { startHttpApp } from './fixtures/local-apps.ts';
import type { HttpApp } from './fixtures/local-apps.ts';
import { meshRequest } from './fixtures/mesh-client.ts';
import type { MeshCall } from './fixtures/mesh-client.ts';

// For the one run that must fail before its admin API is up, which runProxy() waits for.
const bin = fileURLToPath(new URL('../../cli/bin/causeway.js', import.meta.url));

/** The sum of the samples of `metric` (Prometheus text) whose labels include `labels`. */
function sampleSum(text: string, metric: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const labelText = line.slice(metric.length, line.lastIndexOf('}') + 1);
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

/**
 * Take a TLS session ticket from one worker, crash that worker, and check that the ticket
 * (and those that follow) resume on whichever workers take the next connections, the
 * replacement included: every worker seals tickets with the keys the primary hands out.
 * The replacement must also get the snapshot the others serve and answer.
 */
async function expectResumptionAcrossWorkers(
  running: ProxyProcess,
  workers: number,
  call: Omit<MeshCall, 'agent' | 'path'>,
): Promise<void> {
  const agent = new https.Agent({ keepAlive: false });
  try {
    expect((await meshRequest({ ...call, agent, path: '/ticket' })).status).to.equal(200);
    const issuer = await eventually(
      () =>
        /"pid":(\d+),[^\n]*"path":"\/ticket"[^\n]*"msg":"inbound request"/.exec(
          running.output(),
        )?.[1],
      'the access log line of the first request',
    );
    const listening = () => running.output().match(/"msg":"inbound listening"/g)?.length ?? 0;
    const before = listening();
    process.kill(Number(issuer), 'SIGKILL');
    await eventually(() => listening() > before, 'a replacement worker', 20_000);
    await eventually(async () => {
      const dump = (await (await fetch(`${running.adminUrl}/clusters`)).json()) as {
        clusters: unknown[];
      };
      return dump.clusters.length === workers;
    }, 'the replacement to answer');
    expect(running.output()).to.contain('worker crashed; starting a replacement');
    const calls = workers * 2;
    for (let i = 0; i < calls; i++) {
      expect((await meshRequest({ ...call, agent })).status).to.equal(200);
    }
    // Summed over the live workers, none of which issued the first ticket; the test's
    // other requests do not offer tickets.
    const prom = await (await fetch(`${running.adminUrl}/stats/prometheus`)).text();
    expect(
      sampleSum(prom, 'causeway_proxy_tls_handshakes_total', {
        direction: 'inbound',
        outcome: 'ok',
        resumed: 'true',
      }),
    ).to.equal(calls);
  } finally {
    agent.destroy();
  }
}

describe('causeway run proxy (integration)', function () {
  this.timeout(60_000);
  let dir: string;
  let ca: TestCa;
  let app: HttpApp;
  let running: ProxyProcess | undefined;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'causeway-proxy-cli-'));
    ca = await TestCa.create();
    app = await startHttpApp();
  });
  afterEach(function () {
    if (running?.child.exitCode === null) running.child.kill('SIGKILL');
    running = undefined;
  });
  after(async function () {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const workers of [1, 2]) {
    it(`runs from a bootstrap file with ${workers} process${workers > 1 ? 'es (a crashed worker is replaced)' : ''}: ready, forwards in and out, exits 0 on SIGTERM`, async function () {
      // An outbound listener whose cluster is the proxy's own inbound: every worker must
      // share it (a worker that bound its own socket would fail with EADDRINUSE).
      const inboundPort = await freePort();
      const outboundPort = await freePort();
      const files = await writeBootstrap(dir, ca, {
        appPort: app.port,
        name: `proxy-${workers}.yaml`,
        inboundPort,
        outbound: [
          {
            name: 'api',
            port: outboundPort,
            protocol: 'http',
            routes: [{ destinations: [{ cluster: 'api' }] }],
          },
        ],
        clusters: [
          {
            name: 'api',
            service: 'api',
            endpoints: [
              { address: '127.0.0.1', port: inboundPort, zone: 'test', instanceId: 'api-1' },
            ],
          },
        ],
      });
      running = await runProxy(['--bootstrap', files.file, '--workers', String(workers)]);
      const admin = running.adminUrl;
      await proxyReady(running);
      const client = await ca.leaf('web');
      const requests = 6;
      for (let i = 0; i < requests; i++) {
        const res = await meshRequest({
          port: files.inboundPort,
          leaf: client,
          roots: [ca.rootPem],
          server: files.leaf.spiffeId,
          path: `/hello/${i}`,
        });
        expect(res.status).to.equal(200);
        expect(
          (JSON.parse(res.body) as { headers: Record<string, string> }).headers[
            'x-causeway-source'
          ],
        ).to.equal(client.spiffeId);
      }
      const prom = await (await fetch(`${admin}/stats/prometheus`)).text();
      expect(
        sampleSum(prom, 'causeway_proxy_requests_total', {
          direction: 'inbound',
          code_class: '2xx',
        }),
      ).to.equal(requests);
      expect(prom).to.match(/^causeway_proxy_config_version 1$/m);
      const dump = (await (await fetch(`${admin}/config_dump`)).json()) as {
        mode: string;
        version: number;
      };
      expect(dump).to.include({ mode: 'bootstrap', version: 1 });
      const clusters = (await (await fetch(`${admin}/clusters`)).json()) as { clusters: unknown };
      if (workers > 1) expect(clusters.clusters).to.have.length(workers);
      else
        expect((clusters.clusters as { name: string }[]).map((c) => c.name)).to.deep.equal(['api']);
      if (workers > 1) {
        await expectResumptionAcrossWorkers(running, workers, {
          port: files.inboundPort,
          leaf: client,
          roots: [ca.rootPem],
          server: files.leaf.spiffeId,
        });
      }
      for (let i = 0; i < workers * 2; i++) {
        const out = await fetch(`http://127.0.0.1:${outboundPort}/out/${i}`);
        expect(out.status).to.equal(200);
        expect(((await out.json()) as { url: string }).url).to.equal(`/out/${i}`);
      }
      const missing = await fetch(`${admin}/nope`);
      expect(missing.status).to.equal(404);
      expect(await stopProxy(running)).to.equal(0);
    });
  }

  it('exits 2 naming the file and field when the bootstrap is wrong', async function () {
    const files = await writeBootstrap(dir, ca, {
      appPort: app.port,
      name: 'bad.yaml',
      extra: { app: { address: '127.0.0.1', port: 70000 } },
    });
    const child = spawn(process.execPath, [bin, 'run', 'proxy', '--bootstrap', files.file], {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const [code] = (await withTimeout(once(child, 'exit'), 20_000, 'the proxy to exit')) as [
      number | null,
    ];
    expect(code).to.equal(2);
    expect(err).to.contain('bad.yaml: app.port: must be a port number 1-65535');
  });

  it('joins a zone with 2 workers: registers, serves, resumes TLS sessions across workers, leaves on SIGTERM', async function () {
    const zone = await startZone({});
    try {
      const bundle = (await (await fetch(`${zone.url}/api/ca/bundle`)).json()) as {
        roots: string[];
      };
      writeFileSync(join(dir, 'zone-roots.pem'), bundle.roots.join('\n'));
      running = await runProxy([
        '--zone-control',
        `wss://127.0.0.1:${zone.zone.proxyStream.address().port}`,
        '--ca-file',
        join(dir, 'zone-roots.pem'),
        '--service',
        'web',
        '--port',
        String(app.port),
        '--app-protocol',
        'http',
        '--inbound-port',
        '0',
        '--inbound-address',
        '127.0.0.1',
        '--address',
        '127.0.0.1',
        '--admin-addr',
        '127.0.0.1:0',
        '--instance-id',
        'web-w',
        '--health-check',
        'none',
        '--workers',
        '2',
      ]);
      const admin = running.adminUrl;
      await proxyReady(running);
      const dump = (await (await fetch(`${admin}/config_dump`)).json()) as {
        listeners: { inbound: number };
        stream: { acked: Record<string, number> };
      };
      expect(dump.stream.acked.config).to.be.a('number');
      const keyPair = await generateKeyPair();
      const spiffeId = workloadId('client');
      const leaf = (await (
        await fetch(`${zone.url}/api/ca/leaf`, {
          method: 'POST',
          body: JSON.stringify({ spiffeId, csr: createCsr({ keyPair, spiffeId }) }),
        })
      ).json()) as { certificatePem: string; chainPem: string; serial: string };
      const client = { spiffeId, ...leaf, keyPem: privateKeyToPem(keyPair.privateKey) };
      for (let i = 0; i < 4; i++) {
        const res = await meshRequest({
          port: dump.listeners.inbound,
          leaf: client,
          roots: bundle.roots,
          server: workloadId('web'),
        });
        expect(res.status).to.equal(200);
      }
      await expectResumptionAcrossWorkers(running, 2, {
        port: dump.listeners.inbound,
        leaf: client,
        roots: bundle.roots,
        server: workloadId('web'),
      });
      const instances = async () =>
        ((await (await fetch(`${zone.url}/v1/catalog/service/web`)).json()) as unknown[]).length;
      expect(await instances()).to.equal(1);
      expect(await stopProxy(running)).to.equal(0);
      await eventually(
        async () => (await instances()) === 0,
        'the instance to be deregistered',
        5000,
      );
    } finally {
      await zone.stop();
    }
  });
});

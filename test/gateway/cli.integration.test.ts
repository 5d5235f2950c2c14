/**
 * `causeway run gateway --bootstrap` as a real child process: the east gateway runs in the
 * child, the west gateway and the destination in this process. It starts, answers its
 * admin API, carries a cross-zone call through its tunnel, and exits 0 on SIGTERM; a bad
 * bootstrap file exits 2 naming the field.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatSpiffeId } from '../../core/index.ts';
import { eventually, withTimeout } from '../helpers/async.ts';
import { childEnv } from '../helpers/child-env.ts';
import type { MtlsTerminator } from '../helpers/proxy-identity.ts';
import { TestCa } from '../helpers/test-ca.ts';
import { meshRequest } from '../proxy/fixtures/mesh-client.ts';
import { writeGatewayBootstrap } from './fixtures/bootstrap-files.ts';
import { TD, peer, service, startDestination, startGateway } from './fixtures/two-zones.ts';
import type { StartedGateway } from './fixtures/two-zones.ts';

const cli = fileURLToPath(new URL('./fixtures/gateway-cli.ts', import.meta.url));

interface Child {
  child: ChildProcess;
  output: () => string;
}

function runGateway(args: string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'run', 'gateway', ...args], {
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  return { child, output: () => out };
}

async function exitCode(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const [code] = (await withTimeout(once(child, 'exit'), 20_000, 'the gateway to exit')) as [
    number | null,
  ];
  return code;
}

describe('causeway run gateway (child process)', function () {
  this.timeout(60_000);
  let ca: TestCa;
  let dir: string;
  let api: MtlsTerminator;
  let west: StartedGateway;
  let running: Child | undefined;

  before(async () => {
    ca = await TestCa.create();
    dir = mkdtempSync(join(tmpdir(), 'cw-gw-cli-'));
    api = await startDestination(ca, 'api', 'west');
    west = await startGateway(ca, {
      zone: 'west',
      name: 'west-gw',
      config: { services: [service('api', ['east'], [api.port])] },
    });
  });

  after(async () => {
    if (running && running.child.exitCode === null) {
      running.child.kill('SIGKILL');
      await exitCode(running.child);
    }
    await west?.gateway.stop();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves admin, carries a cross-zone call through its tunnel, and stops on SIGTERM', async () => {
    const { file } = await writeGatewayBootstrap(dir, ca, {
      zone: 'east',
      name: 'east-gw',
      config: { peers: [peer('west', 'west-gw', west.publicPort)] },
    });
    running = runGateway([
      '--bootstrap',
      file,
      '--name',
      'east-gw',
      '--admin-addr',
      '127.0.0.1:0',
      '--local-listen',
      '127.0.0.1:0',
    ]);
    const child = running;
    const adminPort = await eventually(
      () => {
        if (child.child.exitCode !== null) throw new Error(`exited early:\n${child.output()}`);
        const m = /"addr":"127\.0\.0\.1:(\d+)","msg":"admin API listening"/.exec(child.output());
        return m ? Number(m[1]) : undefined;
      },
      'the admin API to listen',
      30_000,
    );
    const admin = `http://127.0.0.1:${adminPort}`;
    const ready = await eventually(async () => {
      const res = await fetch(`${admin}/ready`);
      return res.status === 200 ? await res.json() : undefined;
    }, 'the gateway to be ready');
    expect(ready).to.deep.equal({ ready: true, reasons: [] });

    const dumpText = await (await fetch(`${admin}/config_dump`)).text();
    expect(dumpText).to.not.match(/PRIVATE KEY/);
    const dump = JSON.parse(dumpText) as {
      mode: string;
      identity: { spiffeId: string };
      listeners: { public: string; local: string };
      config: { zone: string; peers: unknown[] };
    };
    expect(dump.mode).to.equal('bootstrap');
    expect(dump.identity.spiffeId).to.equal(`spiffe://${TD}/zone/east/gateway/east-gw`);
    expect(dump.config.zone).to.equal('east');
    const localPort = Number(dump.listeners.local.split(':').at(-1));

    const res = await meshRequest({
      port: localPort,
      leaf: await ca.leaf('web', { zone: 'east' }),
      roots: [ca.rootPem],
      server: formatSpiffeId({
        kind: 'workload',
        trustDomain: TD,
        zone: 'west',
        namespace: 'default',
        service: 'api',
      }),
      servername: `api.default.west.${TD}`,
    });
    expect(res.status).to.equal(200);
    expect(api.peers.at(-1)?.spiffeId).to.equal(`spiffe://${TD}/zone/east/ns/default/svc/web`);

    const tunnels = (await (await fetch(`${admin}/tunnels`)).json()) as {
      outbound: { zone: string; sessions: { state: string; peer: string }[] }[];
    };
    expect(tunnels.outbound.map((p) => [p.zone, p.sessions.map((s) => s.peer)])).to.deep.equal([
      ['west', [`spiffe://${TD}/zone/west/gateway/west-gw`]],
    ]);
    const metrics = await (await fetch(`${admin}/stats/prometheus`)).text();
    expect(metrics).to.contain(
      'causeway_gateway_connections_total{listener="local",mode="tunnel"} 1',
    );
    expect(metrics).to.contain(
      'causeway_gateway_tunnel_sessions{peer_zone="west",direction="outbound"} 1',
    );
    expect(metrics).to.match(/^causeway_gateway_process_cpu_seconds_total /m);
    const missing = await fetch(`${admin}/clusters`);
    expect(missing.status).to.equal(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).to.equal(
      'CW_ERR_NOT_FOUND',
    );
    expect((await fetch(`${admin}/ready`, { method: 'POST' })).status).to.equal(405);

    child.child.kill('SIGTERM');
    expect(await exitCode(child.child)).to.equal(0);
    // West sees the tunnel go away with it.
    await eventually(() => west.gateway.tunnels().inbound.length === 0, 'the tunnel to close');
  });

  it('exits 2 naming the file and field of a bad bootstrap', async () => {
    const { file } = await writeGatewayBootstrap(join(dir, 'bad'), ca, {
      zone: 'east',
      name: 'east-gw',
      config: { peers: [{ zone: 'east', gateways: [{ name: 'x', address: 'a', port: 1 }] }] },
    });
    const bad = runGateway(['--bootstrap', file]);
    expect(await exitCode(bad.child)).to.equal(2);
    expect(bad.output()).to.contain(
      "gw.yaml: config.peers[0].zone: peers[0].zone: east is the gateway's own zone",
    );
  });
});

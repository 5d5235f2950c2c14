/**
 * Config pushes on the stream: a first snapshot after the hello, a new version when the
 * proxy's view changes (and only then, only to that proxy), debounced, with ACK and NACK
 * recorded in `GET /api/proxies`.
 */
import { expect } from 'chai';
import { decodeProxyConfig } from '../../core/index.ts';
import type { ProxyConfig } from '../../core/index.ts';
import { eventually } from '../helpers/async.ts';
import { forEachBackend, startZone } from '../helpers/zone.ts';
import type { TestZone } from '../helpers/zone.ts';
import { StreamClient, helloFrame } from '../helpers/proxy-stream-client.ts';

interface Status {
  instanceId: string;
  configVersion: number;
  configAckedVersion: number;
  acked: Record<string, number>;
  lastNack?: { kind: string; version: number; reason: string };
}

async function statusOf(zone: TestZone, instanceId: string): Promise<Status | undefined> {
  const body = (await (await fetch(`${zone.url}/api/proxies`)).json()) as { proxies: Status[] };
  return body.proxies.find((p) => p.instanceId === instanceId);
}

async function putEntry(zone: TestZone, entry: unknown): Promise<void> {
  const res = await fetch(`${zone.url}/v1/config`, { method: 'PUT', body: JSON.stringify(entry) });
  expect(res.status, await res.clone().text()).to.equal(200);
}

function latest(client: StreamClient): { version: number; nonce: string; snapshot: ProxyConfig } {
  const pushes = client.all('config');
  const last = pushes[pushes.length - 1];
  if (!last) throw new Error('no config push yet');
  return {
    version: last.version,
    nonce: last.nonce,
    snapshot: last.snapshot as unknown as ProxyConfig,
  };
}

forEachBackend('proxy config pushes', (env) => {
  const clients: StreamClient[] = [];
  afterEach(function () {
    for (const c of clients.splice(0)) c.close();
  });
  async function connect(fields: Parameters<typeof helloFrame>[0]): Promise<StreamClient> {
    const client = await StreamClient.connect(env.zone);
    clients.push(client);
    client.send(await helloFrame(fields));
    await client.next('config');
    return client;
  }

  it('pushes version 1 after the hello, then a new version when an upstream instance appears', async function () {
    const web = await connect({
      service: 'web',
      instanceId: 'web-1',
      upstreams: [{ service: 'backend', localPort: 9001 }],
    });
    const first = latest(web);
    expect(first.version).to.equal(1);
    expect(decodeProxyConfig(first.snapshot)).to.deep.equal(first.snapshot);
    expect(first.snapshot.outbound.map((l) => [l.name, l.port])).to.deep.equal([['backend', 9001]]);
    expect(first.snapshot.clusters[0]?.endpoints).to.deep.equal([]);
    await eventually(
      async () => (await statusOf(env.zone, 'web-1'))?.configVersion === 1,
      'configVersion 1',
    );

    await connect({
      service: 'backend',
      instanceId: 'backend-1',
      port: 21101,
      address: '127.0.0.2',
    });
    await eventually(() => web.all('config').length >= 2 || undefined, 'a second push');
    const second = latest(web);
    expect(second.version).to.equal(2);
    expect(second.nonce).not.to.equal(first.nonce);
    expect(second.snapshot.clusters[0]?.endpoints).to.deep.include({
      address: '127.0.0.2',
      port: 21101,
      zone: 'test',
      priority: 0,
      health: 'passing',
      weight: 1,
      instanceId: 'backend-1',
    });
  });

  it('pushes only to proxies whose snapshot changed', async function () {
    const web = await connect({
      service: 'web',
      instanceId: 'web-2',
      upstreams: [{ service: 'quiet', localPort: 9001 }],
    });
    const api = await connect({
      service: 'api',
      instanceId: 'api-2',
      upstreams: [{ service: 'other', localPort: 9002 }],
    });
    const webPushes = web.all('config').length;
    const apiPushes = api.all('config').length;
    // Changes what api sees (its upstream's protocol), not what web sees.
    await putEntry(env.zone, { Kind: 'service-defaults', Name: 'other', Protocol: 'http' });
    await eventually(() => api.all('config').length > apiPushes || undefined, 'a push to api');
    expect(latest(api).snapshot.outbound[0]?.protocol).to.equal('http');
    // Give web every chance to be (wrongly) pushed: another change api sees, then settle.
    await putEntry(env.zone, { Kind: 'service-defaults', Name: 'other', Protocol: 'tcp' });
    await eventually(
      () => latest(api).snapshot.outbound[0]?.protocol === 'tcp' || undefined,
      'api back to tcp',
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(web.all('config')).to.have.length(webPushes);
  });

  it('records config ACKs and NACKs with the reason', async function () {
    const web = await connect({ service: 'web', instanceId: 'web-3' });
    const v1 = latest(web);
    web.send({ type: 'ack', kind: 'config', version: v1.version, nonce: v1.nonce });
    await eventually(
      async () => (await statusOf(env.zone, 'web-3'))?.configAckedVersion === 1,
      'the ACK',
    );
    await putEntry(env.zone, { Kind: 'service-defaults', Name: 'web', Protocol: 'http' });
    await eventually(() => web.all('config').length >= 2 || undefined, 'a second push');
    const v2 = latest(web);
    expect(v2.snapshot.inbound.protocol).to.equal('http');
    web.send({
      type: 'nack',
      kind: 'config',
      version: v2.version,
      nonce: v2.nonce,
      reason: 'port 9001 in use',
    });
    const status = await eventually(async () => {
      const s = await statusOf(env.zone, 'web-3');
      return s?.lastNack ? s : undefined;
    }, 'the NACK');
    expect(status.lastNack).to.include({ kind: 'config', version: 2, reason: 'port 9001 in use' });
    expect(status.configVersion).to.equal(2);
    expect(status.configAckedVersion).to.equal(1);
  });
});

describe('proxy config pushes are debounced (integration)', function () {
  let zone: TestZone;
  before(async function () {
    zone = await startZone({ proxyConfigDebounce: '300ms' });
  });
  after(async function () {
    await zone?.stop();
  });

  it('folds a burst of changes into fewer pushes that end in the final state', async function () {
    const web = await StreamClient.connect(zone);
    try {
      web.send(
        await helloFrame({
          service: 'web',
          instanceId: 'web-d',
          upstreams: [{ service: 'api', localPort: 9001 }],
        }),
      );
      await web.next('config');
      const before = web.all('config').length;
      for (const ms of [100, 200, 300, 400, 500]) {
        await putEntry(zone, { Kind: 'service-resolver', Name: 'api', ConnectTimeout: `${ms}ms` });
      }
      await eventually(
        () => latest(web).snapshot.clusters[0]?.connectTimeoutMs === 500 || undefined,
        'the final connect timeout',
      );
      await new Promise((r) => setTimeout(r, 600));
      expect(web.all('config').length - before).to.be.within(1, 4);
      expect(latest(web).snapshot.clusters[0]?.connectTimeoutMs).to.equal(500);
    } finally {
      web.close();
    }
  });
});

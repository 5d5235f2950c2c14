/**
 * A proxy registers its instance through the config stream: node, service instance and a
 * TTL stream check owned by the proxy; `health` frames become the app check; `leave`
 * deregisters at once; a dropped stream turns critical and is reaped after
 * `proxyDeregisterAfter`, also when the zone restarts and the proxy never returns.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { readCatalog } from '../../core/index.ts';
import type { Store } from '../../core/index.ts';
import { eventually } from '../helpers/async.ts';
import { startRedis } from '../helpers/redis-server.ts';
import type { RedisServer } from '../helpers/redis-server.ts';
import { forEachBackend, startZone } from '../helpers/zone.ts';
import type { TestZone } from '../helpers/zone.ts';
import { StreamClient, helloFrame } from '../helpers/proxy-stream-client.ts';

const FAST = { proxyDeregisterAfter: '1s', proxyCheckTtl: '1s' };

async function instanceOf(store: Store, node: string, id: string) {
  return (await readCatalog(store)).instance(node, id);
}

async function checkOf(store: Store, node: string, id: string) {
  return (await readCatalog(store)).check(node, id);
}

forEachBackend('proxy registration', FAST, (env) => {
  it('registers the instance on hello, owned by the proxy, with a passing stream check', async function () {
    const client = await StreamClient.connect(env.zone);
    try {
      client.send(
        await helloFrame({
          service: 'web',
          instanceId: 'web-1',
          node: 'vm-1',
          address: '10.0.0.7',
          port: 21001,
          adminPort: 19001,
          appProtocol: 'http',
          meta: { version: 'v2' },
          tags: ['canary'],
        }),
      );
      await client.next('config');
      const store = env.zone.zone.store;
      const instance = await instanceOf(store, 'vm-1', 'web-1');
      expect(instance).to.include({
        service: 'web',
        namespace: 'default',
        zone: 'test',
        address: '10.0.0.7',
        port: 21001,
        protocol: 'http',
      });
      expect(instance?.proxy).to.deep.equal({ inbound: 21001, admin: 19001 });
      expect(instance?.meta).to.deep.equal({ version: 'v2' });
      expect(instance?.tags).to.deep.equal(['canary']);
      expect(instance?.source).to.deep.equal({ kind: 'proxy', owner: 'default/web/web-1' });
      const node = (await readCatalog(store)).node('vm-1');
      expect(node?.address).to.equal('10.0.0.7');
      const check = await checkOf(store, 'vm-1', 'proxy:web-1:stream');
      expect(check).to.include({ status: 'passing', type: 'ttl', serviceId: 'web-1' });
      expect(check?.definition.deregisterCriticalServiceAfterMs).to.equal(1000);
      // Consul clients see it like any other instance.
      const services = await env.consul.health.service({ service: 'web', passing: true });
      expect(services.map((s: { Service: { ID: string } }) => s.Service.ID)).to.deep.equal([
        'web-1',
      ]);
      // The session keeps a 1 s TTL passing for longer than the TTL.
      await new Promise((r) => setTimeout(r, 1300));
      expect((await checkOf(store, 'vm-1', 'proxy:web-1:stream'))?.status).to.equal('passing');
    } finally {
      client.close();
    }
  });

  it('records health frames as the app check', async function () {
    const client = await StreamClient.connect(env.zone);
    try {
      // Sent right behind the hello: frames are handled in order.
      client.send(await helloFrame({ service: 'web', instanceId: 'web-2' }));
      client.send({ type: 'health', status: 'critical', output: 'GET /health: 503' });
      await client.next('config');
      expect(client.all('error')).to.deep.equal([]);
      const store = env.zone.zone.store;
      const app = await eventually(
        () => checkOf(store, 'web-2', 'proxy:web-2:app'),
        'the app check',
      );
      expect(app).to.include({ status: 'critical', output: 'GET /health: 503', monitored: false });
      client.send({ type: 'health', status: 'passing', output: 'ok' });
      await eventually(
        async () => (await checkOf(store, 'web-2', 'proxy:web-2:app'))?.status === 'passing',
        'the app check to pass',
      );
    } finally {
      client.close();
    }
  });

  it('deregisters at once on leave, node included', async function () {
    const client = await StreamClient.connect(env.zone);
    client.send(await helloFrame({ service: 'web', instanceId: 'web-3', node: 'vm-3' }));
    await client.next('config');
    client.send({ type: 'leave' });
    // A late report after leave does not bring the instance back.
    client.send({ type: 'health', status: 'passing', output: 'ok' });
    const store = env.zone.zone.store;
    await eventually(
      async () => (await readCatalog(store)).node('vm-3') === undefined,
      'the node to go',
      5000,
    );
    expect(await instanceOf(store, 'vm-3', 'web-3')).to.equal(undefined);
    // Nor does the session's TTL renewal (every third of the 1 s TTL).
    await new Promise((r) => setTimeout(r, 800));
    expect(await instanceOf(store, 'vm-3', 'web-3')).to.equal(undefined);
    client.close();
  });

  it('turns critical when the stream drops, re-registers on reconnect, and reaps a proxy that stays away', async function () {
    const store = env.zone.zone.store;
    const first = await StreamClient.connect(env.zone);
    first.send(await helloFrame({ service: 'web', instanceId: 'web-4' }));
    await first.next('config');
    first.close();
    await eventually(
      async () => (await checkOf(store, 'web-4', 'proxy:web-4:stream'))?.status === 'critical',
      'the stream check to turn critical',
    );
    // Back within the grace period: the same registration, passing again.
    const second = await StreamClient.connect(env.zone);
    second.send(await helloFrame({ service: 'web', instanceId: 'web-4' }));
    await second.next('config');
    const check = await checkOf(store, 'web-4', 'proxy:web-4:stream');
    expect(check?.status).to.equal('passing');
    await new Promise((r) => setTimeout(r, 1200));
    expect(await instanceOf(store, 'web-4', 'web-4')).not.to.equal(undefined);
    second.close();
    await eventually(
      async () => (await instanceOf(store, 'web-4', 'web-4')) === undefined,
      'the instance to be deregistered',
      10_000,
    );
    expect(await checkOf(store, 'web-4', 'proxy:web-4:stream')).to.equal(undefined);
    // The node the proxy created goes with it.
    await eventually(
      async () => (await readCatalog(store)).node('web-4') === undefined,
      'the empty node to be removed',
    );
  });

  it('refuses a hello for an instance another registrar owns, with 409, and leaves that record alone', async function () {
    const put = await fetch(`${env.zone.url}/v1/catalog/register`, {
      method: 'PUT',
      body: JSON.stringify({
        Node: 'vm-9',
        Address: '10.0.0.9',
        Service: { ID: 'web-9', Service: 'web', Port: 8080 },
      }),
    });
    expect(put.status).to.equal(200);
    const client = await StreamClient.connect(env.zone);
    client.send(
      await helloFrame({ service: 'web', instanceId: 'web-9', node: 'vm-9', port: 21009 }),
    );
    const error = await client.next('error');
    expect(error.code).to.equal('CW_ERR_CONFLICT');
    expect(error.field).to.equal('instanceId');
    expect(await client.closed()).to.equal(1008);
    expect(client.all('leaf')).to.have.length(0);
    const kept = await instanceOf(env.zone.zone.store, 'vm-9', 'web-9');
    expect(kept?.source.kind).to.equal('consul-api');
    expect(kept?.port).to.equal(8080);
  });
});

for (const backend of ['embedded', 'redis'] as const) {
  describe(`proxy registration across a zone restart on ${backend} (integration)`, function () {
    let redis: RedisServer | undefined;
    let dir: string | undefined;
    let zone: TestZone | undefined;
    before(async function () {
      if (backend === 'redis') redis = await startRedis();
      else dir = mkdtempSync(join(tmpdir(), 'causeway-proxy-reg-'));
    });
    after(async function () {
      await zone?.stop();
      await redis?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('reaps a registration whose proxy never reconnects after the restart', async function () {
      const options = { ...FAST, store: redis?.url, dataDir: dir };
      zone = await startZone(options);
      const client = await StreamClient.connect(zone);
      client.send(await helloFrame({ service: 'web', instanceId: 'web-r' }));
      await client.next('config');
      // The zone stops under a connected proxy: not the proxy's fault, so no critical write.
      await zone.stop();
      zone = await startZone(options);
      expect(await instanceOf(zone.zone.store, 'web-r', 'web-r')).not.to.equal(undefined);
      // The restarted runner loads the TTL check; it expires, then the reaper follows.
      await eventually(
        async () =>
          (await instanceOf((zone as TestZone).zone.store, 'web-r', 'web-r')) === undefined,
        'the stale registration to be reaped',
        10_000,
      );
      client.close();
    });
  });
}

/**
 * Remote endpoints end to end in one zone: zone sync's records under `sync/global/`
 * written into the zone's real store (as the sync client would) reach a connected proxy's
 * pushed snapshot — through this zone's gateway from the catalog, or directly to the
 * remote zone's gateway when this zone has none — and a zone that loses its healthy
 * instances drops out again. Each input is read again only when its prefixes changed, and
 * zone sync's records skip the local debounce (they were debounced upstream).
 */
import { expect } from 'chai';
import type { Endpoint, ProxyConfig } from '../../../core/index.ts';
import { decodeProxyConfig } from '../../../core/index.ts';
import { eventually } from '../../helpers/async.ts';
import { StreamClient, helloFrame } from '../../helpers/proxy-stream-client.ts';
import { forEachBackend, startZone } from '../../helpers/zone.ts';
import type { TestZone } from '../../helpers/zone.ts';

function stored(body: unknown): Buffer {
  return Buffer.from(
    JSON.stringify({ version: String(Date.now()), body, receivedAt: new Date().toISOString() }),
  );
}

async function putRemoteService(zone: TestZone, remote: string, healthy: number): Promise<void> {
  await zone.zone.store.put(
    `sync/global/remote-service/${remote}/default/api`,
    stored({
      zone: remote,
      service: 'api',
      namespace: 'default',
      protocol: 'http',
      healthy,
      total: 3,
    }),
  );
}

async function catalog(zone: TestZone, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${zone.url}${path}`, { method: 'PUT', body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).to.equal(200);
}

function latest(client: StreamClient): { version: number; snapshot: ProxyConfig } {
  const last = client.all('config').at(-1);
  if (!last) throw new Error('no config push yet');
  return { version: last.version, snapshot: last.snapshot as unknown as ProxyConfig };
}

function apiEndpoints(client: StreamClient): Endpoint[] {
  return latest(client).snapshot.clusters.find((c) => c.name === 'api')?.endpoints ?? [];
}

forEachBackend('cross-zone endpoints in pushed snapshots', (env) => {
  let web: StreamClient | undefined;
  afterEach(function () {
    web?.close();
  });

  async function connectWeb(instanceId: string): Promise<StreamClient> {
    const client = await StreamClient.connect(env.zone);
    web = client;
    client.send(
      await helloFrame({
        service: 'web',
        instanceId,
        upstreams: [{ service: 'api', localPort: 9101 }],
      }),
    );
    await client.next('config');
    return client;
  }

  // First: no proxy from an earlier test is disconnecting (a catalog write) meanwhile.
  it('reads again only the input whose prefixes changed', async function () {
    const inputs = env.zone.zone.proxyStream.inputs;
    const first = await inputs.current();
    await putRemoteService(env.zone, 'north', 2);
    const second = await eventually(async () => {
      const now = await inputs.current();
      return now.remotes.services.some((s) => s.zone === 'north') ? now : undefined;
    }, 'the remote record in the inputs');
    expect(second).to.not.equal(first);
    // Zone sync wrote only a remote record: the catalog and the config entries are reused.
    expect(second.catalog).to.equal(first.catalog);
    expect(second.entries).to.equal(first.entries);

    await catalog(env.zone, '/v1/catalog/register', {
      Node: 'inputs-node',
      Address: '127.0.0.9',
      Service: { ID: 'inputs-1', Service: 'inputs', Port: 8080 },
    });
    const third = await eventually(async () => {
      const now = await inputs.current();
      return now.catalog.instance('inputs-node', 'inputs-1') ? now : undefined;
    }, 'the new instance in the inputs');
    expect(third.remotes).to.equal(second.remotes);
    expect(third.entries).to.equal(second.entries);
    await env.zone.zone.store.delete('sync/global/remote-service/north/default/api');
    await catalog(env.zone, '/v1/catalog/deregister', { Node: 'inputs-node' });
  });

  it('adds a remote zone through the local gateway when zone sync records it, and drops it when it has no healthy instance', async function () {
    const client = await connectWeb('web-1');
    expect(apiEndpoints(client)).to.deep.equal([]);
    await catalog(env.zone, '/v1/catalog/register', {
      Node: 'gw-node',
      Address: '127.0.0.5',
      Service: {
        ID: 'gw-1',
        Service: 'gateway',
        Port: 8443,
        Meta: { 'causeway-kind': 'mesh-gateway', 'causeway-public-addr': '203.0.113.1:443' },
      },
    });
    const before = latest(client).version;

    await putRemoteService(env.zone, 'west', 3);
    await eventually(() => apiEndpoints(client).length > 0 || undefined, 'the remote endpoint');
    expect(apiEndpoints(client)).to.deep.equal([
      {
        address: '127.0.0.5',
        port: 8443,
        zone: 'west',
        priority: 1,
        health: 'passing',
        weight: 3,
        instanceId: 'gateway:west',
      },
    ]);
    const pushed = latest(client);
    expect(pushed.version).to.be.above(before);
    expect(decodeProxyConfig(pushed.snapshot)).to.deep.equal(pushed.snapshot);

    await putRemoteService(env.zone, 'west', 0);
    await eventually(() => apiEndpoints(client).length === 0 || undefined, 'west to drop out');
    await env.zone.zone.store.delete('sync/global/remote-service/west/default/api');
    await catalog(env.zone, '/v1/catalog/deregister', { Node: 'gw-node' });
  });

  it('dials the remote zone’s gateway directly when this zone has none', async function () {
    const client = await connectWeb('web-2');
    await env.zone.zone.store.put(
      'sync/global/remote-gateway/central/gw-a',
      stored({
        zone: 'central',
        name: 'gw-a',
        publicAddress: '198.51.100.7',
        publicPort: 443,
        health: 'passing',
      }),
    );
    await putRemoteService(env.zone, 'central', 2);
    await eventually(() => apiEndpoints(client).length > 0 || undefined, 'the remote endpoint');
    expect(apiEndpoints(client)).to.deep.equal([
      {
        address: '198.51.100.7',
        port: 443,
        zone: 'central',
        priority: 1,
        health: 'passing',
        weight: 2,
        instanceId: 'gateway:central',
      },
    ]);
    // Global KV is replicated beside the remote records, but no snapshot reads it: writing
    // it must not push (and an unchanged snapshot would not be pushed anyway).
    const pushes = client.all('config').length;
    await env.zone.zone.store.put(
      'sync/global/kv/app/flag',
      stored({ value: '', flags: 0, modifyIndex: 1 }),
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(client.all('config')).to.have.length(pushes);
  });
});

describe('snapshot input debounces (integration)', function () {
  let zone: TestZone | undefined;
  let web: StreamClient | undefined;
  before(async function () {
    // A local debounce far longer than any test wait: what arrives sooner did not wait for it.
    zone = await startZone({ proxyConfigDebounce: '20s' });
  });
  after(async function () {
    web?.close();
    await zone?.stop();
  });

  it('pushes what zone sync stored without the local debounce, and still debounces config entries', async function () {
    const z = zone as TestZone;
    const client = await StreamClient.connect(z);
    web = client;
    client.send(
      await helloFrame({
        service: 'web',
        instanceId: 'web-d',
        upstreams: [{ service: 'api', localPort: 9101 }],
      }),
    );
    await client.next('config');
    await z.zone.store.put(
      'sync/global/remote-gateway/west/gw-w',
      stored({
        zone: 'west',
        name: 'gw-w',
        publicAddress: '198.51.100.9',
        publicPort: 443,
        health: 'passing',
      }),
    );
    await putRemoteService(z, 'west', 2);
    await eventually(
      () => apiEndpoints(client).some((e) => e.zone === 'west') || undefined,
      'the synced endpoint well before the 20 s debounce',
      10_000,
    );

    const pushes = client.all('config').length;
    // Would make the api listener HTTP: a change, but a local one, so it waits.
    const res = await fetch(`${z.url}/v1/config`, {
      method: 'PUT',
      body: JSON.stringify({ Kind: 'service-defaults', Name: 'api', Protocol: 'http' }),
    });
    expect(res.status).to.equal(200);
    await new Promise((r) => setTimeout(r, 1000));
    expect(client.all('config')).to.have.length(pushes);
    expect(latest(client).snapshot.outbound[0]?.protocol).to.equal('tcp');
  });
});

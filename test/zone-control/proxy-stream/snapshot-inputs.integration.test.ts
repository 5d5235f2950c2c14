/**
 * Remote endpoints end to end in one zone: zone sync's records under `sync/global/`
 * written into the zone's real store (as the sync client would) reach a connected proxy's
 * pushed snapshot — through this zone's gateway from the catalog, or directly to the
 * remote zone's gateway when this zone has none — and a zone that loses its healthy
 * instances drops out again.
 */
import { expect } from 'chai';
import type { Endpoint, ProxyConfig } from '../../../core/index.ts';
import { decodeProxyConfig } from '../../../core/index.ts';
import { eventually } from '../../helpers/async.ts';
import { StreamClient, helloFrame } from '../../helpers/proxy-stream-client.ts';
import { forEachBackend } from '../../helpers/zone.ts';
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

/**
 * Upstreams pinned to a zone end to end in one zone: a proxy that says hello with `api`,
 * `api@west` and `api@test` (this zone) gets three listeners, and each pinned cluster holds
 * only its zone's endpoints — west's through this zone's gateway, this zone's from the
 * catalog — at priority 0, following zone sync's records as they change.
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

async function putRemoteApi(zone: TestZone, remote: string, healthy: number): Promise<void> {
  await zone.zone.store.put(
    `sync/global/remote-service/${remote}/default/api`,
    stored({
      zone: remote,
      service: 'api',
      namespace: 'default',
      protocol: 'tcp',
      healthy,
      total: 3,
    }),
  );
}

function latest(client: StreamClient): ProxyConfig {
  const last = client.all('config').at(-1);
  if (!last) throw new Error('no config push yet');
  return last.snapshot as unknown as ProxyConfig;
}

/** `zone/priority/weight@address:port` of a cluster's endpoints in the latest push. */
function endpoints(client: StreamClient, cluster: string): string[] {
  const found = latest(client).clusters.find((c) => c.name === cluster);
  if (!found) throw new Error(`no cluster ${cluster}`);
  return found.endpoints.map(
    (e: Endpoint) => `${e.zone}/${e.priority}/${e.weight}@${e.address}:${e.port}`,
  );
}

forEachBackend('upstreams pinned to a zone in pushed snapshots', (env) => {
  const clients: StreamClient[] = [];
  after(function () {
    for (const c of clients) c.close();
  });

  async function connect(fields: Parameters<typeof helloFrame>[0]): Promise<StreamClient> {
    const client = await StreamClient.connect(env.zone);
    clients.push(client);
    client.send(await helloFrame(fields));
    return client;
  }

  it('reaches only the pinned zone: west through the local gateway, this zone from its catalog, no failover', async function () {
    const api = await connect({ service: 'api', instanceId: 'api-1', port: 21001 });
    await api.next('config');
    const res = await fetch(`${env.zone.url}/v1/catalog/register`, {
      method: 'PUT',
      body: JSON.stringify({
        Node: 'gw-node',
        Address: '127.0.0.5',
        Service: {
          ID: 'gw-1',
          Service: 'gateway',
          Port: 8443,
          Meta: { 'causeway-kind': 'mesh-gateway', 'causeway-public-addr': '203.0.113.1:443' },
        },
      }),
    });
    expect(res.status).to.equal(200);
    await putRemoteApi(env.zone, 'west', 3);

    const web = await connect({
      service: 'web',
      instanceId: 'web-1',
      upstreams: [
        { service: 'api', localPort: 9101 },
        { service: 'api', localPort: 9102, zone: 'west' },
        { service: 'api', localPort: 9103, zone: 'test' },
      ],
    });
    await web.next('config');
    await eventually(
      () => endpoints(web, 'api.default.west').length > 0 || undefined,
      'the west endpoint',
    );
    const snapshot = latest(web);
    expect(decodeProxyConfig(snapshot)).to.deep.equal(snapshot);
    expect(
      snapshot.outbound.map((l) => `${l.name}:${l.port}->${l.routes[0]?.destinations[0]?.cluster}`),
    ).to.deep.equal([
      'api:9101->api',
      'api--west:9102->api.default.west',
      'api--test:9103->api.default.test',
    ]);
    expect(endpoints(web, 'api')).to.deep.equal([
      'test/0/1@127.0.0.1:21001',
      'west/1/3@127.0.0.5:8443',
    ]);
    expect(endpoints(web, 'api.default.west')).to.deep.equal(['west/0/3@127.0.0.5:8443']);
    expect(endpoints(web, 'api.default.test')).to.deep.equal(['test/0/1@127.0.0.1:21001']);

    // West loses its healthy instances: the pinned cluster empties rather than failing over
    // to the local instance, while the unpinned one keeps it.
    await putRemoteApi(env.zone, 'west', 0);
    await eventually(
      () => endpoints(web, 'api.default.west').length === 0 || undefined,
      'the west endpoint to go',
    );
    expect(endpoints(web, 'api')).to.deep.equal(['test/0/1@127.0.0.1:21001']);
    expect(endpoints(web, 'api.default.test')).to.deep.equal(['test/0/1@127.0.0.1:21001']);
    await env.zone.zone.store.delete('sync/global/remote-service/west/default/api');
  });

  it('refuses a hello that pins one service to one zone twice, naming the upstream', async function () {
    const client = await connect({
      service: 'web',
      instanceId: 'web-2',
      upstreams: [
        { service: 'api', localPort: 9201, zone: 'west' },
        { service: 'api', namespace: 'payments', localPort: 9202, zone: 'west' },
      ],
    });
    const error = await client.next('error');
    expect(error).to.include({ code: 'CW_ERR_INVALID_ARGUMENT', field: 'upstreams[1].service' });
  });
});

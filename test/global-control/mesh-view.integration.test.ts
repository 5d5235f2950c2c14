/**
 * `/api/services` and `/api/gateways`: the mesh-wide view the global builds from what zones
 * synced (written here straight into the store, as the sync server would).
 */
import { expect } from 'chai';
import { zoneResourcePrefix } from '../../core/index.ts';
import type {
  ExportResource,
  GatewayResource,
  InstanceResource,
  ResourceType,
  Store,
} from '../../core/index.ts';
import { forEachGlobalBackend } from '../helpers/global.ts';

const receivedAt = '2030-01-01T00:00:00.000Z';

async function put(store: Store, zone: string, type: ResourceType, name: string, body: unknown) {
  await store.put(
    `${zoneResourcePrefix(zone, type)}${name}`,
    Buffer.from(JSON.stringify({ version: '1', body, receivedAt })),
  );
}

function instance(
  service: string,
  instanceId: string,
  health: InstanceResource['health'],
  namespace = 'default',
): InstanceResource {
  return {
    service,
    namespace,
    instanceId,
    node: 'n1',
    address: '10.0.0.1',
    port: 8080,
    protocol: 'http',
    health,
    tags: [],
    meta: {},
  };
}

forEachGlobalBackend('global mesh-wide reads', { dev: true }, (env) => {
  before(async function () {
    const { store } = env.global.global;
    const inst = (zone: string, i: InstanceResource) =>
      put(store, zone, 'instance', `${i.namespace}/${i.service}/${i.instanceId}`, i);
    await inst('east', instance('api', 'a1', 'passing'));
    await inst('east', instance('api', 'a2', 'critical'));
    await inst('east', instance('web', 'w1', 'warning'));
    await inst('west', instance('api', 'b1', 'passing'));
    await inst('west', instance('api', 'b2', 'passing'));
    await inst('west', instance('api', 'p1', 'passing', 'prod'));
    const exported: ExportResource = {
      service: 'api',
      namespace: 'default',
      consumers: ['west', 'central'],
    };
    await put(store, 'east', 'export', 'default/api', exported);
    await put(store, 'west', 'export', 'default/api', { ...exported, consumers: ['*'] });
    // Exported but no instance synced (yet): still listed, with zero counts.
    await put(store, 'west', 'export', 'default/billing', {
      service: 'billing',
      namespace: 'default',
      consumers: ['*'],
    });
    const gw = (zone: string, g: GatewayResource) => put(store, zone, 'gateway', g.name, g);
    await gw('west', {
      name: 'gw-1',
      publicAddress: '192.0.2.2',
      publicPort: 15443,
      health: 'passing',
    });
    await gw('east', {
      name: 'gw-1',
      publicAddress: '192.0.2.1',
      publicPort: 15443,
      health: 'critical',
    });
    // Records that do not parse are skipped, not fatal.
    await store.put(
      `${zoneResourcePrefix('east', 'instance')}default/broken/x`,
      Buffer.from('{nope'),
    );
    await put(store, 'east', 'instance', 'default/odd/x', { service: 'odd', health: 'sideways' });
  });

  it('aggregates instance health per service and zone, with what each zone exports it to', async function () {
    const res = await env.global.api('/api/services');
    expect(res.status).to.equal(200);
    expect(Number(res.headers.get('x-causeway-index'))).to.be.greaterThan(0);
    const { services } = (await res.json()) as { services: unknown[] };
    expect(services).to.deep.equal([
      {
        namespace: 'default',
        service: 'api',
        zones: {
          east: { passing: 1, warning: 0, critical: 1, total: 2, exportedTo: ['central', 'west'] },
          west: { passing: 2, warning: 0, critical: 0, total: 2, exportedTo: ['*'] },
        },
      },
      {
        namespace: 'default',
        service: 'billing',
        zones: { west: { passing: 0, warning: 0, critical: 0, total: 0, exportedTo: ['*'] } },
      },
      {
        namespace: 'default',
        service: 'web',
        zones: { east: { passing: 0, warning: 1, critical: 0, total: 1, exportedTo: [] } },
      },
      {
        namespace: 'prod',
        service: 'api',
        zones: { west: { passing: 1, warning: 0, critical: 0, total: 1, exportedTo: [] } },
      },
    ]);
  });

  it('lists every zone’s gateways', async function () {
    const { gateways } = (await (await env.global.api('/api/gateways')).json()) as {
      gateways: unknown[];
    };
    expect(gateways).to.deep.equal([
      {
        zone: 'east',
        name: 'gw-1',
        publicAddress: '192.0.2.1',
        publicPort: 15443,
        health: 'critical',
        receivedAt,
      },
      {
        zone: 'west',
        name: 'gw-1',
        publicAddress: '192.0.2.2',
        publicPort: 15443,
        health: 'passing',
        receivedAt,
      },
    ]);
  });

  it('forgets a deleted zone’s services at once', async function () {
    const { store } = env.global.global;
    await put(store, 'south', 'instance', 'default/solo/s1', instance('solo', 's1', 'passing'));
    await env.global.api('/api/zones', {
      method: 'POST',
      body: { name: 'south', kind: 'universal' },
    });
    const before = (await (await env.global.api('/api/services')).json()) as {
      services: { service: string }[];
    };
    expect(before.services.map((s) => s.service)).to.include('solo');
    expect((await env.global.api('/api/zones/south', { method: 'DELETE' })).status).to.equal(204);
    const after = (await (await env.global.api('/api/services')).json()) as {
      services: { service: string }[];
    };
    expect(after.services.map((s) => s.service)).not.to.include('solo');
  });
});

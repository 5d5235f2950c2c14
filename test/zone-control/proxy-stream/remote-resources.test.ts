/**
 * Zone sync records about other zones, read from a real (embedded, in-memory) store: good
 * ones are used, malformed ones are skipped and reported, never fatal.
 */
import { expect } from 'chai';
import { openEmbeddedStore } from '../../../core/index.ts';
import type { Store } from '../../../core/index.ts';
import {
  decodeRemoteGateway,
  decodeRemoteService,
  readRemoteResources,
} from '../../../zone-control/src/proxy-stream/remote-resources.ts';

const stored = (body: unknown): Buffer =>
  Buffer.from(JSON.stringify({ version: '1', body, receivedAt: '2024-01-01T00:00:00Z' }));

describe('remote resources', function () {
  let store: Store;
  beforeEach(async function () {
    store = await openEmbeddedStore({});
  });
  afterEach(async function () {
    await store.close();
  });

  it('reads remote services and gateways, sorted, skipping and reporting malformed records', async function () {
    const service = {
      service: 'api',
      namespace: 'default',
      protocol: 'http',
      healthy: 2,
      total: 3,
    };
    await store.put(
      'sync/global/remote-service/west/default/api',
      stored({ zone: 'west', ...service }),
    );
    await store.put(
      'sync/global/remote-service/central/default/api',
      stored({ zone: 'central', ...service }),
    );
    await store.put(
      'sync/global/remote-service/bad/default/api',
      stored({ zone: 'bad', healthy: -1 }),
    );
    await store.put('sync/global/remote-service/junk', Buffer.from('not json'));
    await store.put(
      'sync/global/remote-gateway/west/gw',
      stored({
        zone: 'west',
        name: 'gw',
        publicAddress: '198.51.100.7',
        publicPort: 443,
        health: 'passing',
      }),
    );
    // Global KV beside them is not a remote resource.
    await store.put('sync/global/kv/app/x', stored({ value: '', flags: 0, modifyIndex: 1 }));
    const errors: string[] = [];
    const read = await readRemoteResources(store, (key) => errors.push(key));
    expect(read.services.map((s) => s.zone)).to.deep.equal(['central', 'west']);
    expect(read.gateways).to.deep.equal([
      {
        zone: 'west',
        name: 'gw',
        publicAddress: '198.51.100.7',
        publicPort: 443,
        health: 'passing',
      },
    ]);
    expect(errors.sort()).to.deep.equal([
      'sync/global/remote-service/bad/default/api',
      'sync/global/remote-service/junk',
    ]);
  });

  it('refuses bodies whose fields would not fit a snapshot', function () {
    const good = {
      zone: 'west',
      service: 'api',
      namespace: 'default',
      protocol: 'tcp',
      healthy: 1,
      total: 1,
    };
    expect(decodeRemoteService(good)).to.deep.equal(good);
    expect(() => decodeRemoteService({ ...good, zone: 'West' })).to.throw(/zone/);
    expect(() => decodeRemoteService({ ...good, healthy: 1.5 })).to.throw(/healthy/);
    expect(() => decodeRemoteService({ ...good, protocol: 'udp' })).to.throw(/protocol/);
    const gw = {
      zone: 'west',
      name: 'gw',
      publicAddress: 'gw.example',
      publicPort: 443,
      health: 'passing',
    };
    expect(decodeRemoteGateway(gw)).to.deep.equal(gw);
    expect(() => decodeRemoteGateway({ ...gw, publicPort: 0 })).to.throw(/publicPort/);
    expect(() => decodeRemoteGateway({ ...gw, publicAddress: '' })).to.throw(/publicAddress/);
    expect(() => decodeRemoteGateway({ ...gw, health: 'ok' })).to.throw(/health/);
    expect(() => decodeRemoteGateway(null)).to.throw(/object/);
  });
});

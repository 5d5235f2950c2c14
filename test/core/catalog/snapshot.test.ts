import { expect } from 'chai';
import { openEmbeddedStore } from '../../../core/src/store/embedded/embedded-store.ts';
import type { EmbeddedStore } from '../../../core/src/store/embedded/embedded-store.ts';
import { register, updateCheckStatus } from '../../../core/src/catalog/catalog-writer.ts';
import { readCatalog } from '../../../core/src/catalog/snapshot.ts';
import { check, instance, node } from './fixtures.ts';

describe('catalog snapshot', function () {
  let store: EmbeddedStore;
  before(async function () {
    store = await openEmbeddedStore();
    await register(store, {
      node: node('node-b'),
      service: instance('web-2', { node: 'node-b', tags: ['v2', 'canary'] }),
      checks: [
        check('web-2-ttl', { node: 'node-b', serviceId: 'web-2' }),
        check('serf', {
          node: 'node-b',
          serviceId: '',
          type: '',
          definition: {},
          monitored: false,
        }),
      ],
    });
    await register(store, {
      node: node('node-a'),
      service: instance('web-1', { node: 'node-a' }),
      checks: [check('web-1-ttl', { node: 'node-a' })],
    });
    await register(store, {
      node: node('node-a'),
      service: instance('db-1', { node: 'node-a', service: 'db', tags: [] }),
    });
    await updateCheckStatus(store, 'node-a', 'web-1-ttl', { status: 'passing', output: '' });
    // A key under catalog/ that is not a record is skipped, not fatal.
    await store.put('catalog/stray', Buffer.from('x'));
  });
  after(async function () {
    await store.close();
  });

  it('lists nodes and instances in name order', async function () {
    const catalog = await readCatalog(store);
    expect(catalog.nodes().map((n) => n.name)).to.deep.equal(['node-a', 'node-b']);
    expect(catalog.instances().map((i) => i.id)).to.deep.equal(['db-1', 'web-1', 'web-2']);
    expect(catalog.instancesOf('web').map((i) => i.node)).to.deep.equal(['node-a', 'node-b']);
  });

  it("maps each service to the union of its instances' tags", async function () {
    const catalog = await readCatalog(store);
    expect(Object.fromEntries(catalog.serviceTags())).to.deep.equal({
      db: [],
      web: ['canary', 'v1', 'v2'],
    });
  });

  it('joins each instance with its node and node checks, and aggregates health', async function () {
    const entries = (await readCatalog(store)).health('web');
    expect(entries.map((e) => [e.node.name, e.health])).to.deep.equal([
      ['node-a', 'passing'],
      ['node-b', 'critical'],
    ]);
    // Node checks first, then the instance's own.
    expect(entries[1]?.checks.map((c) => c.checkId)).to.deep.equal(['serf', 'web-2-ttl']);
  });

  it("finds a service's checks across nodes", async function () {
    const catalog = await readCatalog(store);
    expect(catalog.checksOfService('web').map((c) => c.checkId)).to.deep.equal([
      'web-1-ttl',
      'web-2-ttl',
    ]);
    expect(catalog.checksOfService('db')).to.deep.equal([]);
  });
});

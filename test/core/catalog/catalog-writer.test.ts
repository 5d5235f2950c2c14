import { expect } from 'chai';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../../core/src/errors.ts';
import { openEmbeddedStore } from '../../../core/src/store/embedded/embedded-store.ts';
import type { EmbeddedStore } from '../../../core/src/store/embedded/embedded-store.ts';
import {
  deregister,
  register,
  updateCheckStatus,
} from '../../../core/src/catalog/catalog-writer.ts';
import { checkKey, serviceKey } from '../../../core/src/catalog/keys.ts';
import { readCatalog } from '../../../core/src/catalog/snapshot.ts';
import { CONSUL_API_SOURCE } from '../../../core/src/catalog/types.ts';
import { KUBERNETES, check, instance, node } from './fixtures.ts';

describe('catalog writer', function () {
  let store: EmbeddedStore;
  beforeEach(async function () {
    store = await openEmbeddedStore();
  });
  afterEach(async function () {
    await store.close();
  });

  it('writes a node, its service and checks in one transaction (one index)', async function () {
    const result = await register(store, { node: node(), service: instance(), checks: [check()] });
    expect(result.changed).to.equal(true);
    const catalog = await readCatalog(store);
    expect(catalog.node('node-1')?.modifyIndex).to.equal(result.index);
    expect(catalog.instance('node-1', 'web-1')?.modifyIndex).to.equal(result.index);
    expect(catalog.check('node-1', 'web-1-ttl')?.modifyIndex).to.equal(result.index);
    expect(catalog.check('node-1', 'web-1-ttl')?.serviceName).to.equal('web');
  });

  it('does not write (or bump the index) when a registration changes nothing', async function () {
    const reg = { node: node(), service: instance(), checks: [check()] };
    const first = await register(store, reg);
    const again = await register(store, structuredClone(reg));
    expect(again).to.deep.equal({ changed: false, index: first.index });
    expect(await store.currentIndex()).to.equal(first.index);
  });

  it('writes only the records that changed', async function () {
    await register(store, { node: node(), service: instance(), checks: [check()] });
    const before = await readCatalog(store);
    await register(store, { node: node(), service: instance('web-1', { port: 9090 }) });
    const after = await readCatalog(store);
    expect(after.node('node-1')?.modifyIndex).to.equal(before.node('node-1')?.modifyIndex);
    expect(after.instance('node-1', 'web-1')?.port).to.equal(9090);
    expect(after.check('node-1', 'web-1-ttl')?.modifyIndex).to.equal(
      before.check('node-1', 'web-1-ttl')?.modifyIndex,
    );
  });

  it('refuses with 409 to change a service another registrar owns, naming the owner', async function () {
    await register(store, {
      node: node('node-1', KUBERNETES),
      service: instance('web-1', { source: KUBERNETES }),
    });
    try {
      await register(store, { node: node(), service: instance('web-1', { port: 1 }) });
      expect.fail('expected a conflict');
    } catch (err) {
      expect(err).to.be.instanceOf(ConflictError);
      expect((err as Error).message).to.include('kubernetes registrar "cluster-east"');
    }
    expect((await readCatalog(store)).instance('node-1', 'web-1')?.port).to.equal(8080);
  });

  it('lets registrars share a node as long as they do not change it', async function () {
    await register(store, { node: node('node-1', KUBERNETES) });
    await register(store, { node: node(), service: instance() });
    const catalog = await readCatalog(store);
    expect(catalog.node('node-1')?.source).to.deep.equal(KUBERNETES);
    expect(catalog.instance('node-1', 'web-1')?.source).to.deep.equal(CONSUL_API_SOURCE);
    const moved = { ...node(), address: '10.9.9.9' };
    await expectConflict(register(store, { node: moved }));
  });

  it('refuses to deregister what another registrar owns, leaving everything in place', async function () {
    await register(store, {
      node: node('node-1', KUBERNETES),
      service: instance('web-1', { source: KUBERNETES }),
    });
    await expectConflict(
      deregister(store, { node: 'node-1', serviceId: 'web-1' }, CONSUL_API_SOURCE),
    );
    await expectConflict(deregister(store, { node: 'node-1' }, CONSUL_API_SOURCE));
    expect((await readCatalog(store)).instances()).to.have.length(1);
    const removed = await deregister(store, { node: 'node-1' }, KUBERNETES);
    expect(removed.changed).to.equal(true);
    expect((await store.list('catalog/')).entries).to.have.length(0);
  });

  it('deregisters a service with its checks, and nothing else', async function () {
    await register(store, {
      node: node(),
      service: instance(),
      checks: [
        check(),
        check('node-check', { serviceId: '', type: '', definition: {}, monitored: false }),
      ],
    });
    await deregister(store, { node: 'node-1', serviceId: 'web-1' }, CONSUL_API_SOURCE);
    const catalog = await readCatalog(store);
    expect(catalog.instances()).to.have.length(0);
    expect(catalog.checks().map((c) => c.checkId)).to.deep.equal(['node-check']);
    expect(catalog.node('node-1')).not.to.equal(undefined);
  });

  it('treats removing what is not there as done, without writing', async function () {
    const index = await store.currentIndex();
    const result = await deregister(store, { node: 'ghost', serviceId: 'x' }, CONSUL_API_SOURCE);
    expect(result).to.deep.equal({ changed: false, index });
  });

  it('refuses a check on a service the node does not have', async function () {
    try {
      await register(store, { node: node(), checks: [check('c', { serviceId: 'nope' })] });
      expect.fail('expected a throw');
    } catch (err) {
      expect(err).to.be.instanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).field).to.equal('checks[0].serviceId');
    }
    expect(await store.currentIndex()).to.equal(0);
  });

  it("replaces a service's checks only when asked to", async function () {
    await register(store, { node: node(), service: instance(), checks: [check('a'), check('b')] });
    await register(store, { node: node(), service: instance(), checks: [check('a')] });
    expect((await readCatalog(store)).checksOn('node-1')).to.have.length(2);
    await register(store, {
      node: node(),
      service: instance(),
      checks: [check('a')],
      replaceServiceChecks: true,
    });
    expect((await readCatalog(store)).checksOn('node-1').map((c) => c.checkId)).to.deep.equal([
      'a',
    ]);
  });

  it("keeps a check's status when asked to, so re-registering does not reset it", async function () {
    await register(store, { node: node(), service: instance(), checks: [check()] });
    await updateCheckStatus(store, 'node-1', 'web-1-ttl', { status: 'passing', output: 'ok' });
    const index = await store.currentIndex();
    await register(store, {
      node: node(),
      service: instance(),
      checks: [check()],
      preserveCheckStatus: true,
    });
    expect(await store.currentIndex()).to.equal(index);
    expect((await readCatalog(store)).check('node-1', 'web-1-ttl')?.status).to.equal('passing');
  });

  it('updates a check status only when status or output changes', async function () {
    await register(store, { node: node(), service: instance(), checks: [check()] });
    const first = await updateCheckStatus(store, 'node-1', 'web-1-ttl', {
      status: 'passing',
      output: 'ok',
    });
    expect(first.changed).to.equal(true);
    const same = await updateCheckStatus(store, 'node-1', 'web-1-ttl', {
      status: 'passing',
      output: 'ok',
    });
    expect(same).to.include({ changed: false, index: first.index });
    const entry = await store.get(checkKey('node-1', 'web-1-ttl'));
    expect(entry?.modifyIndex).to.equal(first.index);
  });

  it('answers NotFound for a status update of an unknown check', async function () {
    try {
      await updateCheckStatus(store, 'node-1', 'nope', { status: 'passing', output: '' });
      expect.fail('expected a throw');
    } catch (err) {
      expect(err).to.be.instanceOf(NotFoundError);
    }
  });

  it('plans again when another writer gets in between (check-and-set)', async function () {
    await register(store, { node: node(), service: instance() });
    // Interleave: a concurrent write of the same service lands between read and commit.
    const realTxn = store.txn.bind(store);
    let interfered = false;
    store.txn = async (ops) => {
      if (!interfered) {
        interfered = true;
        await store.put(
          serviceKey('node-1', 'web-1'),
          Buffer.from(JSON.stringify(instance('web-1', { port: 7 }))),
        );
      }
      return realTxn(ops);
    };
    await register(store, { node: node(), service: instance('web-1', { port: 9 }) });
    expect((await readCatalog(store)).instance('node-1', 'web-1')?.port).to.equal(9);
  });
});

async function expectConflict(promise: Promise<unknown>): Promise<void> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(ConflictError);
    return;
  }
  expect.fail('expected a 409 conflict');
}

/**
 * A zone session racing its zone's deletion: the writes of its synced resources carry the
 * registry's guard (the zone record as read), so a delta read before the delete and
 * written after it is refused, and nothing of the deleted zone reappears at global.
 */
import { expect } from 'chai';
import { pino } from 'pino';
import { ResourceInbox, zoneResourcePrefix, zoneResourceValidators } from '../../../core/index.ts';
import type { ZoneResourceType } from '../../../core/index.ts';
import { startGlobal } from '../../helpers/global.ts';
import type { TestGlobal } from '../../helpers/global.ts';
import { syncDelta } from '../../helpers/sync-delta.ts';

const instance = {
  service: 'api',
  namespace: 'default',
  instanceId: 'n1/api-1',
  node: 'n1',
  address: '10.0.0.1',
  port: 8080,
  protocol: 'http',
  health: 'passing',
  tags: [],
  meta: {},
};

const apiInstance = { name: 'default/api/n1/api-1', version: 'v1', body: instance };

describe('zone sync writes guarded by the zone record (integration)', function () {
  let global: TestGlobal;

  before(async () => {
    global = await startGlobal();
  });
  after(() => global.stop());

  it('refuses a delta whose zone was deleted after the guard was read, and writes nothing', async () => {
    const created = await global.api('/api/zones', {
      method: 'POST',
      body: { name: 'east', kind: 'universal' },
    });
    expect(created.status).to.equal(201);
    const { store, zones } = global.global;
    let guardRead!: () => void;
    const deleted = new Promise<void>((resolve) => (guardRead = resolve));
    const inbox = new ResourceInbox<ZoneResourceType>({
      store,
      prefix: (type) => zoneResourcePrefix('east', type),
      revisionKey: (type) => `sync/rev/zone/east/${type}`,
      validators: zoneResourceValidators,
      // The guard is read, then the zone is deleted before the delta's transaction runs.
      guard: async () => {
        const ops = await zones.syncGuard('east');
        guardRead();
        await zones.delete('east');
        return ops;
      },
      logger: pino({ level: 'silent' }),
    });
    const answer = await inbox.apply(syncDelta('instance', { upserts: [apiInstance] }));
    await deleted;
    expect(answer).to.include({ type: 'nack' });
    expect((await store.list(zoneResourcePrefix('east'))).entries).to.deep.equal([]);

    // And a session of a zone that no longer exists cannot write at all.
    const late = new ResourceInbox<ZoneResourceType>({
      store,
      prefix: (type) => zoneResourcePrefix('east', type),
      revisionKey: (type) => `sync/rev/zone/east/${type}`,
      validators: zoneResourceValidators,
      guard: () => zones.syncGuard('east'),
      logger: pino({ level: 'silent' }),
    });
    expect(await late.apply(syncDelta('instance', { upserts: [apiInstance] }))).to.include({
      type: 'nack',
    });
    expect((await store.list(zoneResourcePrefix('east'))).entries).to.deep.equal([]);
  });
});

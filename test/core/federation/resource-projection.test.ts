/**
 * An inbox projection: global KV resources mirrored under `kv/<key>` in the same
 * transactions as the resources themselves.
 */
import { expect } from 'chai';
import { pino } from 'pino';
import {
  ResourceInbox,
  globalResourceValidators,
  kvResourceName,
  openStore,
} from '../../../core/index.ts';
import type {
  GlobalResourceType,
  KvResource,
  ResourceProjection,
  Store,
  StoredResource,
} from '../../../core/index.ts';
import { syncDelta } from '../../helpers/sync-delta.ts';

const logger = pino({ level: 'silent' });

function kvProjection(store: Store): ResourceProjection {
  return {
    upsert(_name, body) {
      const kv = body as KvResource;
      return [
        { op: 'set', key: `kv/${kv.key}`, value: Buffer.from(kv.value, 'base64'), flags: kv.flags },
      ];
    },
    async remove(name) {
      const entry = await store.get(`sync/global/kv/${name}`);
      if (!entry) return [];
      const stored = JSON.parse(entry.value.toString()) as StoredResource<KvResource>;
      return [{ op: 'delete', key: `kv/${stored.body.key}` }];
    },
  };
}

function item(key: string, value: string, flags = 0) {
  return {
    name: kvResourceName(key),
    version: `${key}=${value}`,
    body: { key, value: Buffer.from(value).toString('base64'), flags, modifyIndex: 1 },
  };
}

describe('resource inbox projections', () => {
  let store: Store;
  let inbox: ResourceInbox<GlobalResourceType>;

  beforeEach(async () => {
    store = await openStore('memory', {});
    inbox = new ResourceInbox<GlobalResourceType>({
      store,
      prefix: (type) => `sync/global/${type}/`,
      revisionKey: (type) => `sync/rev/global/${type}`,
      validators: globalResourceValidators,
      projections: { kv: kvProjection(store) },
      logger,
    });
  });
  afterEach(() => store.close());

  it('mirrors upserts and removals, and a full set removes the mirrors of what it lacks', async () => {
    const many = Array.from({ length: 40 }, (_, i) => item(`global/k${i}`, `v${i}`));
    const first = await inbox.apply(
      syncDelta('kv', { revision: 'r.1', upserts: [item('global/a b/é', 'one', 7), ...many] }),
    );
    expect(first).to.include({ type: 'ack' });
    const mirrored = await store.get('kv/global/a b/é');
    expect(mirrored?.value.toString()).to.equal('one');
    expect(mirrored?.flags).to.equal(7);
    // 41 resources with a mirror each: 82 ops, more than one transaction holds.
    expect((await store.list('kv/')).entries).to.have.length(41);

    await inbox.apply(
      syncDelta('kv', {
        full: false,
        revision: 'r.2',
        baseRevision: 'r.1',
        removes: [kvResourceName('global/k0')],
      }),
    );
    expect(await store.get('kv/global/k0')).to.equal(null);
    expect(await store.get('sync/global/kv/' + kvResourceName('global/k0'))).to.equal(null);

    await inbox.apply(syncDelta('kv', { revision: 'r.3', upserts: [item('global/a b/é', 'two')] }));
    expect((await store.list('kv/')).entries.map((e) => e.key)).to.deep.equal(['kv/global/a b/é']);
    expect((await store.get('kv/global/a b/é'))?.value.toString()).to.equal('two');
  });

  it('a mirror write that fails refuses the delta and leaves both the resource and its mirror unwritten', async () => {
    // The resource is valid but its mirror's guard fails: nothing of this delta may land.
    const inboxBad = new ResourceInbox<GlobalResourceType>({
      store,
      prefix: (type) => `sync/global/${type}/`,
      revisionKey: (type) => `sync/rev/global/${type}`,
      validators: globalResourceValidators,
      projections: {
        kv: {
          upsert: () => [{ op: 'check-not-exists', key: 'kv/taken' }],
          remove: () => Promise.resolve([]),
        },
      },
      logger,
    });
    await store.put('kv/taken', Buffer.from('x'));
    const answer = await inboxBad.apply(syncDelta('kv', { upserts: [item('global/a', 'one')] }));
    expect(answer).to.include({ type: 'nack' });
    expect(await store.get('sync/global/kv/' + kvResourceName('global/a'))).to.equal(null);
    expect(await store.get('sync/rev/global/kv')).to.equal(null);
  });
});

import { expect } from 'chai';
import { pino } from 'pino';
import { KvScopes, kvResourceName, openStore } from '../../../core/index.ts';
import type { Store } from '../../../core/index.ts';
import { GlobalKvIndex } from '../../../global-control/src/kv/kv-index.ts';
import { eventually } from '../../helpers/async.ts';

describe('global-control/kv/kv-index', function () {
  let store: Store;
  let index: GlobalKvIndex;
  let stop: AbortController;
  let running: Promise<void>;
  let notified: number;

  beforeEach(async function () {
    store = await openStore('memory', {});
    stop = new AbortController();
    notified = 0;
  });

  afterEach(async function () {
    stop.abort();
    await running;
    await store.close();
  });

  function start(): void {
    index = new GlobalKvIndex(
      store,
      new KvScopes(['global/']),
      pino({ level: 'silent' }),
      // Long enough that a burst of writes is one notification even on a loaded machine.
      500,
    );
    index.onChange(() => notified++);
    running = index.run(stop.signal);
  }

  it('loads global KV already in the store as kv resources, leaving other keys out', async function () {
    const put = await store.put('kv/global/a', Buffer.from('hello'), { flags: 3 });
    await store.put('kv/old/x', Buffer.from('not global any more'));
    await store.put('zones/east', Buffer.from('{}'));
    start();
    await index.whenLoaded();
    expect(Object.fromEntries(index.resources())).to.deep.equal({
      [kvResourceName('global/a')]: {
        key: 'global/a',
        value: Buffer.from('hello').toString('base64'),
        flags: 3,
        modifyIndex: put.ok ? put.entry.modifyIndex : -1,
      },
    });
  });

  it('follows writes and deletes, and tells listeners once per burst', async function () {
    start();
    await index.whenLoaded();
    await eventually(() => notified === 1, 'the first notification after loading');
    await Promise.all([
      store.put('kv/global/a', Buffer.from('1')),
      store.put('kv/global/b', Buffer.from('2')),
    ]);
    await store.put('kv/global/a', Buffer.from('3'));
    await eventually(() => index.resources().size === 2, 'both keys indexed');
    await eventually(() => notified === 2, 'one notification for the burst');
    expect(index.resources().get(kvResourceName('global/a'))?.value).to.equal(
      Buffer.from('3').toString('base64'),
    );
    await store.delete('kv/global/', { recurse: true });
    await eventually(() => index.resources().size === 0, 'the tree removed');
    await eventually(() => notified === 3, 'a notification for the delete');
    // A key outside the global prefixes changes nothing a zone sees.
    await store.put('kv/app/x', Buffer.from('1'));
    await store.put('kv/global/c', Buffer.from('1'));
    await eventually(() => index.resources().size === 1, 'global/c indexed');
    await eventually(() => notified === 4, 'a notification for global/c');
  });

  it('hands out a copy, so a reader never sees a later change mid-read', async function () {
    start();
    await index.whenLoaded();
    const before = index.resources();
    await store.put('kv/global/a', Buffer.from('1'));
    await eventually(() => index.resources().size === 1, 'global/a indexed');
    expect(before.size).to.equal(0);
  });
});

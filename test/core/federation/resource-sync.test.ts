/**
 * The sync engine without a network: an outbox's deltas fed straight into an inbox on a
 * real embedded store, with ACKs fed back.
 */
import { expect } from 'chai';
import { pino } from 'pino';
import {
  MAX_DELTA_ITEMS,
  PeerMemory,
  ResourceInbox,
  ResourceOutbox,
  canonicalJson,
  decodeGlobalFrame,
  decodeZoneFrame,
  openStore,
  resourceVersion,
  zoneResourceValidators,
} from '../../../core/index.ts';
import type {
  AckMessage,
  DeltaMessage,
  InstanceResource,
  NackMessage,
  Store,
  ZoneResourceType,
} from '../../../core/index.ts';
import { eventually } from '../../helpers/async.ts';

const logger = pino({ level: 'silent' });

function instance(id: string, health: InstanceResource['health'] = 'passing'): InstanceResource {
  return {
    service: 'api',
    namespace: 'default',
    instanceId: id,
    node: 'n1',
    address: '10.0.0.1',
    port: 8080,
    protocol: 'http',
    health,
    tags: [],
    meta: {},
  };
}

interface Harness {
  store: Store;
  inbox: ResourceInbox<ZoneResourceType>;
  sent: DeltaMessage[];
  answers: (AckMessage | NackMessage)[];
  source: Map<string, unknown>;
  outbox: ResourceOutbox<ZoneResourceType>;
  connect(memory?: PeerMemory, deliver?: boolean): Promise<ResourceOutbox<ZoneResourceType>>;
  deletes: string[];
}

async function harness(): Promise<Harness> {
  const store = await openStore('memory', {});
  const h = {
    store,
    sent: [] as DeltaMessage[],
    answers: [] as (AckMessage | NackMessage)[],
    source: new Map<string, unknown>(),
    deletes: [] as string[],
  } as Harness;
  h.inbox = new ResourceInbox<ZoneResourceType>({
    store,
    prefix: (type) => `sync/zone/east/${type}/`,
    revisionKey: (type) => `sync/rev/zone/east/${type}`,
    validators: zoneResourceValidators,
    logger,
  });
  const from = await store.currentIndex();
  void (async () => {
    for await (const event of store.watch('sync/zone/', from)) {
      if (event.type === 'resync') break;
      for (const c of event.changes) if (c.op === 'delete') h.deletes.push(c.key);
    }
  })().catch(() => undefined);
  h.connect = async (memory = new PeerMemory(), deliver = true) => {
    const outbox: ResourceOutbox<ZoneResourceType> = new ResourceOutbox<ZoneResourceType>({
      readers: {
        instance: () => Promise.resolve(new Map(h.source)),
        gateway: () => Promise.resolve(new Map()),
        export: () => Promise.resolve(new Map()),
        revocation: () => Promise.resolve(new Map()),
      },
      send: (delta) => {
        h.sent.push(delta);
        if (!deliver) return;
        // Round-trip through JSON and the decoder, as over the wire.
        const decoded = decodeZoneFrame(JSON.stringify(delta)) as DeltaMessage;
        void h.inbox.apply(decoded).then((answer) => {
          if (!answer) return;
          h.answers.push(answer);
          const back = decodeGlobalFrame(JSON.stringify(answer));
          if (back.type === 'ack') outbox.onAck(back);
          else if (back.type === 'nack') outbox.onNack(back);
        });
      },
      memory,
      logger,
      retryBaseMs: 20,
    });
    h.outbox = outbox;
    outbox.start(await h.inbox.resume());
    return outbox;
  };
  return h;
}

const stored = async (store: Store): Promise<string[]> =>
  (await store.list('sync/zone/east/instance/')).entries.map(
    (e) => e.key.split('/').pop() as string,
  );

describe('zone sync engine (outbox → inbox)', () => {
  it('sends the full set first, then only what changed, and the receiver stores it', async () => {
    const h = await harness();
    h.source.set('default/api/a', instance('a'));
    h.source.set('default/api/b', instance('b'));
    const outbox = await h.connect();
    await eventually(async () => (await stored(h.store)).length === 2, 'two stored');
    const first = h.sent.find((d) => d.resourceType === 'instance');
    expect(first?.full).to.equal(true);
    await eventually(() => outbox.lagMs() === 0, 'caught up');
    h.source.delete('default/api/a');
    h.source.set('default/api/b', instance('b', 'critical'));
    outbox.changed('instance');
    await eventually(async () => (await stored(h.store)).join() === 'b', 'a removed');
    const last = h.sent.filter((d) => d.resourceType === 'instance').at(-1) as DeltaMessage;
    expect(last.full).to.equal(false);
    expect(last.upserts.map((u) => u.name)).to.deep.equal(['default/api/b']);
    expect(last.removes).to.deep.equal(['default/api/a']);
    expect(last.baseRevision).to.equal(first?.revision);
  });

  it('resumes a reconnect with a delta from the acknowledged revision, and rewrites nothing unchanged', async () => {
    const h = await harness();
    h.source.set('default/api/a', instance('a'));
    const memory = new PeerMemory();
    const first = await h.connect(memory);
    await eventually(() => first.lastAckAt() !== undefined, 'acked');
    first.close();
    const index = await h.store.currentIndex();
    h.sent.length = 0;
    await h.connect(memory);
    await eventually(() => h.sent.length > 0 || undefined, 'a frame', 1000).catch(() => undefined);
    // Nothing changed: no instance delta at all.
    expect(h.sent.filter((d) => d.resourceType === 'instance')).to.deep.equal([]);
    expect(await h.store.currentIndex()).to.equal(index);
  });

  it('a sender that lost its memory sends a full set; unchanged entries are not rewritten or removed', async () => {
    const h = await harness();
    h.source.set('default/api/a', instance('a'));
    h.source.set('default/api/b', instance('b'));
    const first = await h.connect();
    await eventually(() => first.lastAckAt() !== undefined, 'acked');
    first.close();
    const before = await h.store.list('sync/zone/east/instance/');
    h.source.set('default/api/c', instance('c'));
    const second = await h.connect(new PeerMemory());
    await eventually(() => second.lastAckAt() !== undefined, 'acked again');
    const after = await h.store.list('sync/zone/east/instance/');
    expect(h.sent.filter((d) => d.resourceType === 'instance').at(-1)?.full).to.equal(true);
    for (const entry of before.entries) {
      const same = after.entries.find((e) => e.key === entry.key);
      expect(same?.modifyIndex, entry.key).to.equal(entry.modifyIndex);
    }
    expect(after.entries).to.have.length(3);
    expect(h.deletes).to.deep.equal([]);
  });

  it('a NACKed delta leaves the receiver as it was, names the resource, and heals once fixed', async () => {
    const h = await harness();
    h.source.set('default/api/a', instance('a'));
    const outbox = await h.connect();
    await eventually(() => outbox.lastAckAt() !== undefined, 'acked');
    h.source.set('default/api/bad', { ...instance('bad'), port: 70000 });
    outbox.changed('instance');
    const nack = await eventually(
      () => h.answers.find((a): a is NackMessage => a.type === 'nack'),
      'a nack',
    );
    expect(nack.resource).to.equal('default/api/bad');
    expect(nack.message).to.match(/default\/api\/bad: port must be a port number \(field port\)/);
    expect(await stored(h.store)).to.deep.equal(['a']);
    expect(outbox.lastNack()?.resource).to.equal('default/api/bad');
    h.source.set('default/api/bad', instance('bad'));
    await eventually(async () => (await stored(h.store)).length === 2, 'healed');
  });

  it('refuses a delta based on a revision the receiver does not hold', async () => {
    const h = await harness();
    const answer = await h.inbox.apply({
      type: 'delta',
      resourceType: 'instance',
      nonce: 'n1',
      revision: 'x.2',
      baseRevision: 'x.1',
      full: false,
      retain: [],
      more: false,
      chunk: 0,
      upserts: [],
      removes: [],
    });
    expect(answer?.type).to.equal('nack');
    expect((answer as NackMessage).message).to.match(/based on revision x\.1.*send the full set/);
  });

  it('splits a large change into chunks applied together, acknowledging only the last', async () => {
    const h = await harness();
    for (let i = 0; i < MAX_DELTA_ITEMS + 10; i++)
      h.source.set(`default/api/i${i}`, instance(`i${i}`));
    const outbox = await h.connect();
    await eventually(() => outbox.lastAckAt() !== undefined, 'acked', 20_000);
    const deltas = h.sent.filter((d) => d.resourceType === 'instance');
    expect(deltas).to.have.length(2);
    expect(deltas.map((d) => d.more)).to.deep.equal([true, false]);
    expect(h.answers.filter((a) => a.resourceType === 'instance')).to.have.length(1);
    expect(await stored(h.store)).to.have.length(MAX_DELTA_ITEMS + 10);
  });

  it('a full set keeps names under retained prefixes', async () => {
    const h = await harness();
    const put = (name: string) =>
      h.inbox.apply({
        type: 'delta',
        resourceType: 'instance',
        nonce: `n-${name}`,
        revision: `r-${name}`,
        baseRevision: '',
        full: true,
        retain: name === 'second' ? ['default/api/k'] : [],
        more: false,
        chunk: 0,
        upserts:
          name === 'first'
            ? ['keep', 'drop'].map((id) => ({
                name: `default/api/${id}`,
                version: resourceVersion(instance(id)),
                body: instance(id),
              }))
            : [],
        removes: [],
      });
    expect((await put('first'))?.type).to.equal('ack');
    expect((await put('second'))?.type).to.equal('ack');
    expect(await stored(h.store)).to.deep.equal(['keep']);
  });

  it('versions ignore key order', () => {
    expect(resourceVersion({ a: 1, b: [1, { c: 2, d: 3 }] })).to.equal(
      resourceVersion({ b: [1, { d: 3, c: 2 }], a: 1 }),
    );
    expect(canonicalJson({ b: 1, a: undefined })).to.equal('{"b":1}');
  });

  it('a full set whose middle chunk is refused removes nothing, and its later chunks are refused too', async () => {
    const h = await harness();
    const all = Array.from({ length: 30 }, (_, i) => instance(`i${i}`));
    const item = (b: InstanceResource) => ({
      name: `default/api/${b.instanceId}`,
      version: resourceVersion(b),
      body: b,
    });
    const chunk = (revision: string, i: number, bodies: InstanceResource[], more: boolean) =>
      h.inbox.apply({
        type: 'delta',
        resourceType: 'instance',
        nonce: `${revision}-${i}`,
        revision,
        baseRevision: '',
        full: true,
        retain: [],
        more,
        chunk: i,
        upserts: bodies.map(item),
        removes: [],
      });
    await chunk('e.1', 0, all.slice(0, 10), true);
    await chunk('e.1', 1, all.slice(10, 20), true);
    expect((await chunk('e.1', 2, all.slice(20), false))?.type).to.equal('ack');
    const bad = all.slice(10, 20).map((b) => (b.instanceId === 'i15' ? { ...b, port: -1 } : b));
    // Sent back to back, as the outbox does.
    const answers = await Promise.all([
      chunk('e.2', 0, all.slice(0, 10), true),
      chunk('e.2', 1, bad, true),
      chunk('e.2', 2, all.slice(20), false),
    ]);
    expect(answers.map((a) => a?.type)).to.deep.equal([undefined, 'nack', 'nack']);
    expect(await stored(h.store)).to.have.length(30);
    expect((await h.store.get('sync/rev/zone/east/instance'))?.value.toString()).to.equal('e.1');
    // A lone later chunk, or one from a closed connection, never passes as a whole set.
    expect((await chunk('e.3', 2, all.slice(20), false))?.type).to.equal('nack');
    const queued = chunk('e.4', 0, all.slice(0, 1), false);
    h.inbox.reset();
    expect(await queued).to.equal(undefined);
    expect(await stored(h.store)).to.have.length(30);
  });

  it('sends only the types the peer takes, so an older peer keeps syncing the rest', async () => {
    const sent: DeltaMessage[] = [];
    const outbox = new ResourceOutbox<ZoneResourceType>({
      readers: {
        instance: () => Promise.resolve(new Map([['default/api/n1/i1', instance('i1')]])),
        gateway: () => Promise.resolve(new Map()),
        export: () => Promise.resolve(new Map()),
        revocation: () => Promise.resolve(new Map([['ab', {}]])),
      },
      send: (delta) => sent.push(delta),
      memory: new PeerMemory(),
      accepts: ['instance', 'gateway', 'export'],
      logger,
    });
    outbox.start({});
    outbox.changed('revocation');
    await eventually(() => sent.length === 3, 'the three accepted types sent');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sent.map((d) => d.resourceType).sort()).to.deep.equal(['export', 'gateway', 'instance']);
  });
});

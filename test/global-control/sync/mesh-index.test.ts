/**
 * The global's mesh index, for revocations: each zone's `revocation` resources (as its
 * session stores them) become `remote-revocation` resources for every other zone, while
 * unexpired, and zones global knows nothing of are retained by full sets.
 */
import { expect } from 'chai';
import { pino } from 'pino';
import { openStore, zoneResourcePrefix } from '../../../core/index.ts';
import type { RevocationResource, Store } from '../../../core/index.ts';
import { MeshIndex } from '../../../global-control/src/sync/mesh-index.ts';
import { eventually } from '../../helpers/async.ts';

const logger = pino({ level: 'silent' });
const HOUR = 3_600_000;

function revocation(zone: string, serial: string, notAfterMs: number): RevocationResource {
  return {
    serial,
    spiffeId: `spiffe://causeway.mesh/zone/${zone}/ns/default/svc/web`,
    reason: 'unspecified',
    revokedAt: new Date(notAfterMs - 2 * HOUR).toISOString(),
    notAfter: new Date(notAfterMs).toISOString(),
  };
}

async function put(store: Store, zone: string, name: string, body: unknown): Promise<void> {
  const stored = { version: name, body, receivedAt: new Date().toISOString() };
  await store.put(
    `${zoneResourcePrefix(zone, 'revocation')}${name}`,
    Buffer.from(JSON.stringify(stored)),
  );
}

describe('MeshIndex revocations', () => {
  let store: Store;
  let index: MeshIndex;
  let stop: AbortController;
  let running: Promise<void>;
  let changes: number;

  beforeEach(async () => {
    store = await openStore('memory', {});
    index = new MeshIndex(store, logger, 5);
    changes = 0;
    index.onChange(() => changes++);
    stop = new AbortController();
    running = index.run(stop.signal);
    await index.whenLoaded();
  });

  afterEach(async () => {
    stop.abort();
    await running;
    await store.close();
  });

  it('gives each zone the other zones’ revocations, named <zone>/<serial>, never its own', async () => {
    const future = Date.now() + HOUR;
    await put(store, 'east', 'aa01', revocation('east', 'aa01', future));
    await put(store, 'west', 'bb02', revocation('west', 'bb02', future));
    await eventually(() => index.knownZones().length === 2, 'both zones indexed');
    await eventually(() => changes > 0, 'listeners told');

    const forWest = index.remoteRevocationsFor('west');
    expect([...forWest.keys()]).to.deep.equal(['east/aa01']);
    expect(forWest.get('east/aa01')).to.deep.equal({
      ...revocation('east', 'aa01', future),
      zone: 'east',
    });
    expect([...index.remoteRevocationsFor('east').keys()]).to.deep.equal(['west/bb02']);
    // A third zone gets both.
    expect([...index.remoteRevocationsFor('south').keys()].sort()).to.deep.equal([
      'east/aa01',
      'west/bb02',
    ]);
    expect(index.counts('east')).to.include({ revocation: 1 });
  });

  it('leaves out revocations whose leaf has expired', async () => {
    const now = Date.now();
    await put(store, 'east', 'aa01', revocation('east', 'aa01', now + HOUR));
    await put(store, 'east', 'aa02', revocation('east', 'aa02', now - 1000));
    await eventually(() => index.counts('east').revocation === 2, 'both indexed');
    expect([...index.remoteRevocationsFor('west', now).keys()]).to.deep.equal(['east/aa01']);
    // Later, the first one has expired too.
    expect(index.remoteRevocationsFor('west', now + 2 * HOUR).size).to.equal(0);
  });

  it('forgets a revocation the zone removed', async () => {
    await put(store, 'east', 'aa01', revocation('east', 'aa01', Date.now() + HOUR));
    await eventually(() => index.remoteRevocationsFor('west').size === 1, 'indexed');
    await store.delete(`${zoneResourcePrefix('east', 'revocation')}aa01`);
    await eventually(() => index.remoteRevocationsFor('west').size === 0, 'forgotten');
  });

  it('skips a stored record of another zone’s leaf, or a malformed one, instead of sending it', async () => {
    const future = Date.now() + HOUR;
    await put(store, 'east', 'aa01', revocation('east', 'aa01', future));
    // Written under east, but the leaf is west's: east's word does not revoke it.
    await put(store, 'east', 'cc03', revocation('west', 'cc03', future));
    await put(store, 'east', 'dd04', { ...revocation('east', 'dd04', future), notAfter: 'never' });
    await put(store, 'east', 'ee05', revocation('east', 'ff06', future));
    // Written last, so once it is indexed the ones before it have been looked at.
    await put(store, 'east', 'ab09', revocation('east', 'ab09', future));
    await eventually(() => index.counts('east').revocation === 2, 'the good ones indexed');
    expect([...index.remoteRevocationsFor('west').keys()]).to.deep.equal([
      'east/aa01',
      'east/ab09',
    ]);
    // A good record replaced by a bad one is not kept either.
    await put(store, 'east', 'aa01', { ...revocation('east', 'aa01', future), serial: 'AA01' });
    await eventually(() => index.counts('east').revocation === 1, 'the replaced one dropped');
    expect([...index.remoteRevocationsFor('west').keys()]).to.deep.equal(['east/ab09']);
  });

  it('retains the names of registered zones it has not heard from', async () => {
    await put(store, 'east', 'aa01', revocation('east', 'aa01', Date.now() + HOUR));
    await eventually(() => index.knownZones().includes('east'), 'east indexed');
    expect(index.retainFor(['east', 'west', 'south'])).to.deep.equal(['west/', 'south/']);
    index.markKnown('south');
    expect(index.retainFor(['east', 'west', 'south'])).to.deep.equal(['west/']);
  });
});

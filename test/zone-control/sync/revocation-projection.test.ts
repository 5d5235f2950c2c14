/**
 * Revocations at a zone: other zones' `remote-revocation` resources mirrored to
 * `ca/revoked/<serial>` through the inbox (and removed with them), never touching the
 * zone's own records; and the zone's own revocations read for global, without the
 * mirrored ones.
 */
import { expect } from 'chai';
import { pino } from 'pino';
import {
  CA_LEAF_PREFIX,
  CA_REVOKED_PREFIX,
  ResourceInbox,
  globalResourceValidators,
  openStore,
} from '../../../core/index.ts';
import type {
  GlobalResourceType,
  RemoteRevocationResource,
  RevocationRecord,
  Store,
} from '../../../core/index.ts';
import { revocationProjection } from '../../../zone-control/src/sync/revocation-projection.ts';
import { readZoneRevocations } from '../../../zone-control/src/sync/zone-resources.ts';
import { syncDelta } from '../../helpers/sync-delta.ts';

const logger = pino({ level: 'silent' });
const HOUR = 3_600_000;
/** One fixed expiry, so records built twice are equal. */
const LATER = Date.now() + HOUR;

function record(zone: string, serial: string, notAfterMs = LATER): RevocationRecord {
  return {
    serial,
    spiffeId: `spiffe://causeway.mesh/zone/${zone}/ns/default/svc/web`,
    reason: 'unspecified',
    revokedAt: new Date(notAfterMs - 2 * HOUR).toISOString(),
    notAfter: new Date(notAfterMs).toISOString(),
  };
}

function item(zone: string, serial: string) {
  const body: RemoteRevocationResource = { ...record(zone, serial), zone };
  return { name: `${zone}/${serial}`, version: `${zone}/${serial}`, body };
}

async function revokedRecord(store: Store, serial: string): Promise<RevocationRecord | undefined> {
  const entry = await store.get(CA_REVOKED_PREFIX + serial);
  return entry ? (JSON.parse(entry.value.toString()) as RevocationRecord) : undefined;
}

describe('revocations at a zone', () => {
  let store: Store;
  let inbox: ResourceInbox<GlobalResourceType>;

  beforeEach(async () => {
    store = await openStore('memory', {});
    inbox = new ResourceInbox<GlobalResourceType>({
      store,
      prefix: (type) => `sync/global/${type}/`,
      revisionKey: (type) => `sync/rev/global/${type}`,
      validators: globalResourceValidators,
      projections: { 'remote-revocation': revocationProjection(store, 'west', logger) },
      logger,
    });
  });

  afterEach(async () => {
    await store.close();
  });

  it('mirrors another zone’s revocation to ca/revoked/<serial> in the same transaction', async () => {
    const from = await store.currentIndex();
    const answer = await inbox.apply(
      syncDelta('remote-revocation', { upserts: [item('east', 'aa01')] }),
    );
    expect(answer).to.include({ type: 'ack' });
    // The record, exactly the CA's shape (no `zone`), so the CA lists it as its own.
    expect(await revokedRecord(store, 'aa01')).to.deep.equal(record('east', 'aa01'));
    const stored = await store.get('sync/global/remote-revocation/east/aa01');
    const mirror = await store.get(`${CA_REVOKED_PREFIX}aa01`);
    expect(stored?.modifyIndex).to.be.greaterThan(from);
    expect(mirror?.modifyIndex).to.equal(stored?.modifyIndex);
  });

  it('removes the mirror with the resource, and a full set without it removes both', async () => {
    const first = syncDelta('remote-revocation', {
      upserts: [item('east', 'aa01'), item('south', 'bb02')],
    });
    await inbox.apply(first);
    await inbox.apply(
      syncDelta('remote-revocation', {
        full: false,
        baseRevision: first.revision,
        removes: ['east/aa01'],
      }),
    );
    expect(await revokedRecord(store, 'aa01')).to.equal(undefined);
    expect(await store.get('sync/global/remote-revocation/east/aa01')).to.equal(null);
    await inbox.apply(syncDelta('remote-revocation', { upserts: [] }));
    expect(await revokedRecord(store, 'bb02')).to.equal(undefined);
    // Gone already (the pruner drops expired records): the removal still applies.
    await inbox.apply(syncDelta('remote-revocation', { upserts: [item('east', 'cc03')] }));
    await store.delete(`${CA_REVOKED_PREFIX}cc03`);
    expect(await inbox.apply(syncDelta('remote-revocation', { upserts: [] }))).to.include({
      type: 'ack',
    });
    expect(await store.get('sync/global/remote-revocation/east/cc03')).to.equal(null);
  });

  it('keeps a retained zone’s revocations through a full set that lacks them', async () => {
    await inbox.apply(
      syncDelta('remote-revocation', { upserts: [item('east', 'aa01'), item('south', 'bb02')] }),
    );
    await inbox.apply(syncDelta('remote-revocation', { upserts: [], retain: ['east/'] }));
    expect(await revokedRecord(store, 'aa01')).to.deep.equal(record('east', 'aa01'));
    expect(await revokedRecord(store, 'bb02')).to.equal(undefined);
  });

  it('never overwrites or deletes a revocation of this zone’s own leaf', async () => {
    const own = { ...record('west', 'aa01'), reason: 'revoked by this zone’s operator' };
    await store.put(`${CA_REVOKED_PREFIX}aa01`, Buffer.from(JSON.stringify(own)));
    // Global sending a zone its own revocation would be a bug there: stored, not mirrored.
    expect(
      await inbox.apply(syncDelta('remote-revocation', { upserts: [item('west', 'aa01')] })),
    ).to.include({
      type: 'ack',
    });
    expect(await revokedRecord(store, 'aa01')).to.deep.equal(own);
    // A remote resource of the same serial going away leaves the zone's own record.
    await inbox.apply(syncDelta('remote-revocation', { upserts: [] }));
    expect(await revokedRecord(store, 'aa01')).to.deep.equal(own);
  });

  it('lets no zone revoke a serial this zone issued, nor replace or lift another zone’s revocation', async () => {
    // West issued a leaf with serial cc03 and never revoked it; east names that serial.
    await store.put(`${CA_LEAF_PREFIX}cc03`, Buffer.from('{}'));
    // South revoked dd04; east sends a record of the same serial.
    await inbox.apply(syncDelta('remote-revocation', { upserts: [item('south', 'dd04')] }));
    const south = await revokedRecord(store, 'dd04');
    expect(south?.spiffeId).to.match(/zone\/south\//);
    expect(
      await inbox.apply(
        syncDelta('remote-revocation', {
          upserts: [item('south', 'dd04'), item('east', 'cc03'), item('east', 'dd04')],
        }),
      ),
    ).to.include({ type: 'ack' });
    expect(await revokedRecord(store, 'cc03'), 'west’s own leaf stays unrevoked').to.equal(
      undefined,
    );
    expect(await revokedRecord(store, 'dd04')).to.deep.equal(south);
    // East's resources going away lift nothing of south's.
    await inbox.apply(syncDelta('remote-revocation', { upserts: [item('south', 'dd04')] }));
    expect(await revokedRecord(store, 'dd04')).to.deep.equal(south);
  });

  it('refuses (NACK) a remote revocation whose SPIFFE ID is of another zone than its own', async () => {
    const bad = item('east', 'aa01');
    bad.body = { ...bad.body, spiffeId: record('west', 'aa01').spiffeId };
    const answer = await inbox.apply(syncDelta('remote-revocation', { upserts: [bad] }));
    expect(answer).to.include({ type: 'nack', resource: 'east/aa01' });
    expect(await revokedRecord(store, 'aa01')).to.equal(undefined);
  });

  it('reads only its own unexpired revocations for global, not the mirrored ones', async () => {
    const now = Date.now();
    const put = (serial: string, value: unknown) =>
      store.put(
        CA_REVOKED_PREFIX + serial,
        Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
      );
    await put('aa01', record('west', 'aa01', now + HOUR));
    await put('aa02', record('west', 'aa02', now - 1000));
    await put('bb01', record('east', 'bb01', now + HOUR));
    await put('cc01', 'not json');
    await put('cc02', { ...record('west', 'cc02', now + HOUR), reason: 'x'.repeat(300) });
    await put('cc03', { ...record('west', 'cc03', now + HOUR), extra: 'dropped' });
    const read = await readZoneRevocations(store, 'west', logger, now);
    expect([...read.keys()].sort()).to.deep.equal(['aa01', 'cc03']);
    expect(read.get('aa01')).to.deep.equal(record('west', 'aa01', now + HOUR));
    expect(read.get('cc03')).to.deep.equal(record('west', 'cc03', now + HOUR));
  });
});

import { expect } from 'chai';
import type { SyncStatusSource } from '../../../core/index.ts';
import { zoneView } from '../../../global-control/src/zones/zone-routes.ts';
import type { ZoneRecord } from '../../../global-control/src/zones/zone-record.ts';

const record: ZoneRecord = {
  name: 'east',
  kind: 'universal',
  enabled: true,
  createdAt: '2030-01-01T00:00:00.000Z',
  tokensValidAfter: '2030-01-01T00:00:00.000Z',
};

describe('global-control/zones/zone-routes', function () {
  it('shows a zone the sync server knows nothing of as offline', function () {
    const none: SyncStatusSource = { status: () => undefined };
    expect(zoneView(record, { syncStatus: () => none })).to.deep.equal({
      ...record,
      sync: { online: false },
    });
  });

  it("adds what the sync server reports about the zone's session", function () {
    const source: SyncStatusSource = {
      status: (zone) =>
        zone === 'east'
          ? { online: true, lastSeen: '2030-01-01T00:00:05.000Z', lagMs: 12, auth: 'mtls' }
          : undefined,
    };
    expect(zoneView(record, { syncStatus: () => source }).sync).to.deep.equal({
      online: true,
      lastSeen: '2030-01-01T00:00:05.000Z',
      lagMs: 12,
      auth: 'mtls',
    });
  });
});

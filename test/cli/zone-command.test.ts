import { expect } from 'chai';
import { zoneTable } from '../../cli/src/zone-command.ts';

describe('cli/zone-command', function () {
  it('formats last seen and lag for online zones', function () {
    const now = Date.parse('2030-01-01T00:01:00Z');
    const rows = zoneTable(
      [
        {
          name: 'east',
          kind: 'universal',
          enabled: true,
          createdAt: '',
          sync: { online: true, lastSeen: '2030-01-01T00:00:55Z', lagMs: 1500 },
        },
      ],
      now,
    );
    expect(rows[1]).to.match(/^east\s+universal\s+yes\s+yes\s+5s ago\s+1s500ms$/);
  });

  it('shows offline zones without last seen or lag, columns aligned', function () {
    const rows = zoneTable(
      [
        {
          name: 'a-long-zone-name',
          kind: 'kubernetes',
          enabled: false,
          createdAt: '',
          sync: { online: false },
        },
        { name: 'b', kind: 'universal', enabled: true, createdAt: '', sync: { online: false } },
      ],
      Date.now(),
    );
    expect(rows).to.deep.equal([
      'NAME              KIND        ENABLED  ONLINE  LAST SEEN  LAG',
      'a-long-zone-name  kubernetes  no       no      -          -',
      'b                 universal   yes      no      -          -',
    ]);
  });
});

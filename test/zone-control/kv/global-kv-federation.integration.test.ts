/**
 * Global KV across a real mesh in one process: a real global (its `/api/kv`, its sync
 * server) and two real zones joined with real zone tokens, driven with the `consul` npm
 * client. A write at one zone lands at global and is read at the other (a blocking query
 * there wakes on it); with global stopped, the zones keep serving global keys from their
 * replicas and refuse writes of them with 503.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Consul from 'consul';
import { expect } from 'chai';
import type { ConsulEntry } from '../../../zone-control/src/kv/kv-entry.ts';
import { eventually, raceTimeout, sleep, withTimeout } from '../../helpers/async.ts';
import { joinZone } from '../../helpers/federated-zone.ts';
import { startGlobal } from '../../helpers/global.ts';
import type { TestGlobal } from '../../helpers/global.ts';
import type { TestZone } from '../../helpers/zone.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('global KV across a global and two zones (integration)', function () {
  this.timeout(90_000);
  let dir: string;
  let global: TestGlobal | undefined;
  const zones: TestZone[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cw-gkv-mesh-'));
    global = await startGlobal({ kvGlobalPrefixes: ['global/'] });
  });

  after(async () => {
    await Promise.all(zones.splice(0).map((z) => z.stop().catch(() => undefined)));
    await global?.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  async function join(name: string): Promise<TestZone> {
    const zone = await joinZone(global as TestGlobal, name, dir);
    zones.push(zone);
    return zone;
  }

  const get = (zone: TestZone, p: string): Promise<Response> => fetch(`${zone.url}/v1/kv/${p}`);

  it('replicates a value of the full 512 KiB to every zone, and later writes keep flowing', async () => {
    const north = await join('north');
    const south = await join('south');
    const big = Buffer.alloc(512 * 1024, 'x');
    const put = await fetch(`${north.url}/v1/kv/global/big`, { method: 'PUT', body: big });
    expect(await put.text()).to.equal('true');
    await eventually(async () => {
      const res = await get(south, 'global/big?raw');
      return res.status === 200 && Buffer.from(await res.arrayBuffer()).equals(big);
    }, 'the 512 KiB value at south');
    // Replication goes on after it (one oversize record used to stall the whole type).
    expect(
      await (await fetch(`${north.url}/v1/kv/global/after`, { method: 'PUT', body: 'a' })).text(),
    ).to.equal('true');
    await eventually(
      async () => (await get(south, 'global/after?raw')).status === 200,
      'global/after at south',
    );
  });

  it('writes at one zone reach global and the other zone; with global gone, reads stay and writes are 503', async () => {
    const east = await join('east');
    const west = await join('west');
    const consulEast = new Consul({ host: east.host, port: east.port });
    const consulWest = new Consul({ host: west.host, port: west.port });

    // A write at east lands at global…
    expect(await consulEast.kv.set('global/x', 'v1')).to.equal(true);
    const atGlobal = await (global as TestGlobal).api('/api/kv/global/x');
    expect(atGlobal.status).to.equal(200);
    expect(await atGlobal.json()).to.include({ key: 'global/x', value: b64('v1') });
    // …and is read at west.
    await eventually(
      async () =>
        ((await consulWest.kv.get('global/x')) as { Value?: string } | undefined)?.Value === 'v1',
      'west reads global/x',
    );

    // A blocking query at west wakes on the next write made at east.
    const first = await get(west, 'global/x');
    const index = first.headers.get('x-consul-index') ?? '0';
    const blocked = get(west, `global/x?index=${index}&wait=30s`);
    expect((await raceTimeout(blocked, 300)).timedOut).to.equal(true);
    expect(await consulEast.kv.set('global/x', 'v2')).to.equal(true);
    const woke = await withTimeout(blocked, 15_000, 'the blocking query at west');
    expect(woke.status).to.equal(200);
    const [entry] = (await woke.json()) as ConsulEntry[];
    expect(entry?.Value).to.equal(b64('v2'));
    expect(woke.headers.get('x-consul-knownleader')).to.equal('true');

    // Global goes away.
    await (global as TestGlobal).stop();
    global = undefined;
    for (const zone of [east, west]) {
      await eventually(
        () => zone.zone.globalSync?.contact().knownLeader === false,
        `${zone.zone.options.name} notices global is gone`,
      );
    }
    const put = await fetch(`${west.url}/v1/kv/global/x`, { method: 'PUT', body: 'v3' });
    expect(put.status).to.equal(503);
    expect(await put.text()).to.equal(
      'global KV is read-only at this zone while the global control plane is unreachable: key "global/x" is under global prefix "global/"; retry when zone sync is back (GET /api/federation)\n',
    );
    let refused: unknown;
    try {
      await consulEast.kv.set('global/x', 'v3');
    } catch (err) {
      refused = err;
    }
    expect((refused as { statusCode?: number } | undefined)?.statusCode).to.equal(503);

    const before = await get(west, 'global/x');
    expect(before.status).to.equal(200);
    expect(before.headers.get('x-consul-knownleader')).to.equal('false');
    const [kept] = (await before.json()) as ConsulEntry[];
    expect(kept?.Value).to.equal(b64('v2'));
    await sleep(400);
    const later = await get(west, 'global/x');
    expect(later.status).to.equal(200);
    expect(later.headers.get('x-consul-knownleader')).to.equal('false');
    expect(Number(later.headers.get('x-consul-lastcontact'))).to.be.at.least(
      Number(before.headers.get('x-consul-lastcontact')) + 300,
    );
    // Zone keys are the zone's alone, global or not.
    expect(await consulWest.kv.set('app/local', 'ok')).to.equal(true);
  });
});

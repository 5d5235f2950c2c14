/** Zones joined to a real global in one process, with real zone tokens. */
import path from 'node:path';
import { expect } from 'chai';
import type { ZoneOptions } from '../../zone-control/index.ts';
import { eventually } from './async.ts';
import type { TestGlobal } from './global.ts';
import { startZone } from './zone.ts';
import type { TestZone } from './zone.ts';

/**
 * Register zone `name` at `global` (unless `options` bring their own `zoneToken`), start it
 * with its store under `dir/<name>`, and wait until its sync with global is up.
 */
export async function joinZone(
  global: TestGlobal,
  name: string,
  dir: string,
  options: ZoneOptions = {},
): Promise<TestZone> {
  let token: string | undefined;
  if (!('zoneToken' in options)) {
    const created = await global.api('/api/zones', {
      method: 'POST',
      body: { name, kind: 'universal' },
    });
    expect(created.status, await created.clone().text()).to.equal(201);
    ({ token } = (await created.json()) as { token: string });
  }
  const zone = await startZone({
    name,
    dataDir: path.join(dir, name),
    globalAddr: `wss://127.0.0.1:${global.global.sync.address().port}`,
    zoneToken: token,
    ...options,
  });
  try {
    await eventually(() => zone.zone.globalSync?.contact().knownLeader, `${name} synced`);
  } catch (err) {
    await zone.stop();
    throw err;
  }
  return zone;
}

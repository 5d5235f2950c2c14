/**
 * Global policies across a real mesh in one process: a real global (its `/api/policies`,
 * its sync server) and two real zones joined with real zone tokens. A policy written at
 * global shows up in both zones' `/v1/config`, is
 * read-only there, follows updates, and goes away when global deletes it; a zone's own
 * entries stay its own.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { eventually } from '../../helpers/async.ts';
import { joinZone } from '../../helpers/federated-zone.ts';
import { startGlobal } from '../../helpers/global.ts';
import type { TestGlobal } from '../../helpers/global.ts';
import type { TestZone } from '../../helpers/zone.ts';

interface EntryView {
  Kind: string;
  Name: string;
  Protocol?: string;
  Meta?: Record<string, string>;
}

describe('global policies across a global and two zones (integration)', function () {
  this.timeout(90_000);
  let dir: string;
  let global: TestGlobal;
  const zones: TestZone[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cw-policy-mesh-'));
    global = await startGlobal();
  });

  after(async () => {
    await Promise.all(zones.splice(0).map((z) => z.stop().catch(() => undefined)));
    await global.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  async function join(name: string): Promise<TestZone> {
    const zone = await joinZone(global, name, dir);
    zones.push(zone);
    return zone;
  }

  async function entry(zone: TestZone, kind: string, name: string): Promise<EntryView | null> {
    const res = await fetch(`${zone.url}/v1/config/${kind}/${name}`);
    if (res.status === 404) return null;
    expect(res.status).to.equal(200);
    return (await res.json()) as EntryView;
  }

  it('applies a policy written at global in every zone, read-only there, until global deletes it', async () => {
    const east = await join('east');
    const west = await join('west');
    // East's own entry of another name is its own throughout.
    const local = await fetch(`${east.url}/v1/config`, {
      method: 'PUT',
      body: JSON.stringify({ Kind: 'service-defaults', Name: 'web', Protocol: 'http' }),
    });
    expect(await local.json()).to.equal(true);

    const put = await global.api('/api/policies', {
      method: 'PUT',
      body: { Kind: 'service-defaults', Name: 'api', Protocol: 'http' },
    });
    expect(put.status, await put.clone().text()).to.equal(200);
    for (const zone of [east, west]) {
      await eventually(
        async () => (await entry(zone, 'service-defaults', 'api'))?.Protocol === 'http',
        `${zone.zone.options.name} applies the policy`,
      );
      expect(await entry(zone, 'service-defaults', 'api')).to.deep.include({
        Meta: { 'causeway-origin': 'global' },
      });
    }

    const refused = await fetch(`${west.url}/v1/config`, {
      method: 'PUT',
      body: JSON.stringify({ Kind: 'service-defaults', Name: 'api', Protocol: 'tcp' }),
    });
    expect(refused.status).to.equal(409);
    expect(await refused.text()).to.match(
      /is a global policy: change it at the global control plane/,
    );

    await global.api('/api/policies', {
      method: 'PUT',
      body: { Kind: 'service-defaults', Name: 'api', Protocol: 'grpc' },
    });
    for (const zone of [east, west]) {
      await eventually(
        async () => (await entry(zone, 'service-defaults', 'api'))?.Protocol === 'grpc',
        `${zone.zone.options.name} follows the update`,
      );
    }

    const del = await global.api('/api/policies/service-defaults/api', { method: 'DELETE' });
    expect(await del.json()).to.deep.equal({ ok: true });
    for (const zone of [east, west]) {
      await eventually(
        async () => (await entry(zone, 'service-defaults', 'api')) === null,
        `${zone.zone.options.name} drops the deleted policy`,
      );
    }
    expect(await entry(east, 'service-defaults', 'web')).to.deep.include({ Protocol: 'http' });
    // The name is the zone's to write again.
    const again = await fetch(`${west.url}/v1/config`, {
      method: 'PUT',
      body: JSON.stringify({ Kind: 'service-defaults', Name: 'api', Protocol: 'tcp' }),
    });
    expect(await again.json()).to.equal(true);
  });
});

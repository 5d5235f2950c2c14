/**
 * ACLs on global KV at a zone with ACLs on, against a scripted global: the caller's token
 * decides before anything is forwarded. A recursive delete of global keys is decided on
 * the token's rules (Consul's KeyWritePrefix), not on the keys the zone's replica happens
 * to hold: global deletes its own tree, which may have keys the replica has not received.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { eventually } from '../../helpers/async.ts';
import { startZone } from '../../helpers/zone.ts';
import type { TestZone } from '../../helpers/zone.ts';
import { ScriptedGlobal } from '../sync/scripted-global.ts';

const ROOT = '3b6f0a1c-5d2e-4f7a-9b8c-1d2e3f4a5b6c';

describe('ACLs on global KV at a zone (scripted global, integration)', function () {
  this.timeout(60_000);
  let global: ScriptedGlobal;
  let dir: string;
  let zone: TestZone;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cw-gkv-acl-'));
    global = await ScriptedGlobal.start({ prefixes: ['global/'] });
    zone = await startZone({
      name: 'east',
      dev: false,
      bootstrapToken: ROOT,
      dataDir: path.join(dir, 'east'),
      globalAddr: global.url,
      zoneToken: global.token('east'),
    });
    await eventually(() => zone.zone.globalSync?.contact().knownLeader, 'zone sync up');
  });

  after(async () => {
    await zone.stop();
    await global.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function tokenWith(rules: string): Promise<string> {
    const policy = await fetch(`${zone.url}/v1/acl/policy`, {
      method: 'PUT',
      headers: { 'X-Consul-Token': ROOT },
      body: JSON.stringify({ Name: `p-${Math.random().toString(36).slice(2)}`, Rules: rules }),
    });
    const { ID } = (await policy.json()) as { ID: string };
    const token = await fetch(`${zone.url}/v1/acl/token`, {
      method: 'PUT',
      headers: { 'X-Consul-Token': ROOT },
      body: JSON.stringify({ Policies: [{ ID }] }),
    });
    return ((await token.json()) as { SecretID: string }).SecretID;
  }

  const kv = (method: string, p: string, token: string, body?: string): Promise<Response> =>
    fetch(`${zone.url}/v1/kv/${p}`, { method, body, headers: { 'X-Consul-Token': token } });

  it('refuses a recursive delete when a rule under the prefix denies, though the replica holds no such key', async () => {
    const token = await tokenWith(
      'key_prefix "global/" { policy = "write" }\nkey "global/locked" { policy = "deny" }',
    );
    const writes = global.writes.length;
    const del = await kv('DELETE', 'global/?recurse', token);
    expect(del.status).to.equal(403);
    expect(await del.text()).to.match(/lacks permission 'key:write' on "global\/"/);
    expect(global.writes.length, 'nothing forwarded').to.equal(writes);
    // A subtree with no rule under it is the token's to delete.
    const sub = await kv('DELETE', 'global/app/?recurse', token);
    expect(await sub.text()).to.equal('true');
    expect(global.writes.at(-1)?.op).to.deep.equal({ verb: 'delete-tree', key: 'global/app/' });
  });

  it('refuses a write of a global key the token may not write, forwarding nothing', async () => {
    const token = await tokenWith('key_prefix "global/app/" { policy = "write" }');
    const writes = global.writes.length;
    expect((await kv('PUT', 'global/other', token, 'x')).status).to.equal(403);
    expect(global.writes.length).to.equal(writes);
    expect(await (await kv('PUT', 'global/app/x', token, 'x')).text()).to.equal('true');
  });
});

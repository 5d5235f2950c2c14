/**
 * Zone sync end to end in one process: a global sync server (real root, real tokens) and
 * real zones that join it, send their services, and receive each other's exports.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type https from 'node:https';
import { WebSocket } from 'ws';
import { openStore } from '../../../core/index.ts';
import type { RemoteServiceResource, Store, StoredResource } from '../../../core/index.ts';
import { eventually, sleep } from '../../helpers/async.ts';
import { makeGlobalKeys, startSyncGlobal } from '../../helpers/sync-global.ts';
import type { TestSyncGlobal } from '../../helpers/sync-global.ts';
import { startZone } from '../../helpers/zone.ts';
import type { TestZone } from '../../helpers/zone.ts';

async function registerApi(zone: TestZone, id: string, status = 'passing'): Promise<void> {
  const res = await fetch(`${zone.url}/v1/catalog/register`, {
    method: 'PUT',
    body: JSON.stringify({
      Node: `node-${id}`,
      Address: '127.0.0.1',
      Service: { ID: id, Service: 'api', Port: 9000 },
      Check: { CheckID: `check-${id}`, ServiceID: id, Name: 'up', Status: status },
    }),
  });
  expect(res.status, await res.text()).to.equal(200);
}

async function exportApi(zone: TestZone, consumers: string[]): Promise<void> {
  const res = await fetch(`${zone.url}/v1/config`, {
    method: 'PUT',
    body: JSON.stringify({
      Kind: 'exported-services',
      Name: 'default',
      Services: [{ Name: 'api', Consumers: consumers.map((Zone) => ({ Zone })) }],
    }),
  });
  expect(res.status, await res.text()).to.equal(200);
}

async function remoteApi(zone: TestZone, from: string): Promise<RemoteServiceResource | undefined> {
  const entry = await zone.zone.store.get(`sync/global/remote-service/${from}/default/api`);
  return entry
    ? (JSON.parse(entry.value.toString()) as StoredResource<RemoteServiceResource>).body
    : undefined;
}

describe('zone sync (global ⇄ zones, in-process)', function () {
  this.timeout(60_000);
  let global: TestSyncGlobal;
  let dir: string;
  const zones: TestZone[] = [];

  async function joinZone(name: string, extra: Record<string, unknown> = {}): Promise<TestZone> {
    const zone = await startZone({
      name,
      dataDir: path.join(dir, name),
      globalAddr: global.url,
      zoneToken: global.token(name),
      ...extra,
    });
    zones.push(zone);
    return zone;
  }

  let keys: Awaited<ReturnType<typeof makeGlobalKeys>>;
  let globalStore: Store;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cw-sync-'));
    keys = await makeGlobalKeys();
    globalStore = await openStore('memory', {});
    global = await startSyncGlobal({ keys, store: globalStore });
    global.registry.set('east', { enabled: true });
    global.registry.set('west', { enabled: true });
  });

  afterEach(async () => {
    await Promise.all(zones.splice(0).map((z) => z.stop().catch(() => undefined)));
    await global.stop();
    await globalStore.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a zone joins with its token: global signs its intermediate under the global root', async () => {
    const east = await joinZone('east');
    const state = east.zone.ca.state;
    expect(state.roots).to.have.length(1);
    expect(state.roots[0]?.source).to.equal('global');
    expect(state.roots[0]?.certificatePem.trim()).to.equal(global.rootPem.trim());
    expect(state.roots[0]?.key).to.equal(undefined);
    const status = await eventually(() => global.server.status('east'), 'east online');
    expect(status.online).to.equal(true);
    expect(status.auth).to.equal('token');
    // The zone's leaves chain to the global root.
    const roots = (await (await fetch(`${east.url}/v1/connect/ca/roots`)).json()) as {
      Roots: { RootCert: string }[];
    };
    expect(roots.Roots[0]?.RootCert.trim()).to.equal(global.rootPem.trim());
  });

  it('exported services reach the consuming zone with health counts; others never see them', async () => {
    const east = await joinZone('east');
    const west = await joinZone('west');
    await registerApi(east, 'api-1');
    await registerApi(east, 'api-2', 'critical');
    // A catalog name federation cannot carry (not a DNS label) is left out, not fatal.
    const odd = await fetch(`${east.url}/v1/catalog/register`, {
      method: 'PUT',
      body: JSON.stringify({
        Node: 'n-odd',
        Address: '127.0.0.1',
        Service: { Service: 'Web_API' },
      }),
    });
    expect(odd.status).to.equal(200);
    await exportApi(east, ['west']);
    const remote = await eventually(async () => {
      const r = await remoteApi(west, 'east');
      return r?.total === 2 ? r : undefined;
    }, 'west learns east/api with both instances');
    expect(remote).to.deep.include({
      zone: 'east',
      service: 'api',
      namespace: 'default',
      healthy: 1,
      total: 2,
    });
    // Health changes flow too.
    await registerApi(east, 'api-2', 'passing');
    await eventually(async () => (await remoteApi(west, 'east'))?.healthy === 2, 'healthy 2');
    // East does not get its own service back.
    expect(await remoteApi(east, 'east')).to.equal(undefined);
    // Global holds east's instances and export.
    const { entries } = await global.store.list('sync/zone/east/instance/');
    expect(entries).to.have.length(2);
    // Un-exporting removes it from west.
    await exportApi(east, ['south']);
    await eventually(
      async () => (await remoteApi(west, 'east')) === undefined,
      'west forgets east/api',
    );
  });

  it('a zone reconnects with mutual TLS and its services never disappear from the other zone', async () => {
    const east = await joinZone('east');
    const west = await joinZone('west');
    await registerApi(east, 'api-1');
    await exportApi(east, ['*']);
    await eventually(
      async () => (await remoteApi(west, 'east'))?.healthy === 1,
      'west learns east/api with its instance',
    );
    // Watch west's store for any removal of what east exports, while east restarts.
    const removals: string[] = [];
    const ac = new AbortController();
    const from = await west.zone.store.currentIndex();
    const watching = (async () => {
      for await (const event of west.zone.store.watch('sync/global/', from, {
        signal: ac.signal,
      })) {
        if (event.type === 'resync') break;
        for (const c of event.changes) if (c.op === 'delete') removals.push(c.key);
      }
    })();
    await east.stop();
    zones.splice(zones.indexOf(east), 1);
    await eventually(
      () => global.server.status('east')?.online === false,
      'east offline at global',
    );
    // No token this time: the zone proves who it is with its control identity.
    const again = await joinZone('east', { zoneToken: undefined });
    await eventually(
      () =>
        global.server.status('east')?.online === true &&
        global.server.status('east')?.auth === 'mtls',
      'east back over mTLS',
    );
    await eventually(
      async () => (await again.zone.store.get('sync/rev/global/remote-service')) !== null,
      'resumed',
    );
    await sleep(300);
    ac.abort();
    await watching;
    expect(removals).to.deep.equal([]);
    expect(await remoteApi(west, 'east')).to.deep.include({ healthy: 1 });
  });

  it('zones keep what they received while global is down, and resync when it returns', async () => {
    const east = await joinZone('east');
    const west = await joinZone('west');
    await registerApi(east, 'api-1');
    await exportApi(east, ['*']);
    await eventually(
      async () => (await remoteApi(west, 'east'))?.healthy === 1,
      'west learns east/api with its instance',
    );
    const port = global.server.address().port;
    // Global goes away (its store survives, as with a data dir or Redis).
    await global.stop();
    await sleep(500);
    expect(await remoteApi(west, 'east')).to.deep.include({ healthy: 1 });
    // Meanwhile east gains an instance.
    await registerApi(east, 'api-3');
    global = await startSyncGlobal({ port, store: globalStore, keys });
    global.registry.set('east', { enabled: true });
    global.registry.set('west', { enabled: true });
    await eventually(
      async () => (await remoteApi(west, 'east'))?.healthy === 2,
      'west sees the new instance',
    );
  });

  it('refuses a bad, expired, revoked or other-zone token with the reason', async () => {
    const attempt = async (token: string): Promise<string> => {
      // Node's TLS option, which ws types as its own boolean variant.
      const tlsOptions: https.RequestOptions = {
        ca: [global.rootPem],
        checkServerIdentity: () => undefined,
        headers: { authorization: `Bearer ${token}` },
      };
      const ws = new WebSocket(global.url, tlsOptions);
      return await new Promise<string>((resolve) => {
        ws.once('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(`${res.statusCode} ${body.trim()}`));
        });
        ws.once('open', () => {
          ws.close();
          resolve('open');
        });
        ws.once('error', (err) => resolve(`error ${err.message}`));
      });
    };
    expect(await attempt('cwzt.garbage.x')).to.match(/^401 /);
    expect(await attempt(global.token('east', { ttlSeconds: 1, iatOffset: -100 }))).to.match(
      /^401 .*expired/,
    );
    global.registry.set('east', { enabled: false });
    expect(await attempt(global.token('east'))).to.match(/^403 zone east is disabled/);
    expect(await attempt(global.token('north'))).to.match(/^403 zone north does not exist/);
    global.registry.set('east', { enabled: true, validAfter: Math.floor(Date.now() / 1000) + 5 });
    expect(await attempt(global.token('east'))).to.match(/^401 .*revoked/);
    // A token for west used by a zone that says it is east: refused before any connection.
    let error: unknown;
    try {
      await startZone({ name: 'east', globalAddr: global.url, zoneToken: global.token('west') });
    } catch (err) {
      error = err;
    }
    expect(String(error)).to.match(/zone token is for zone "west", but this zone is "east"/);
  });

  it('refuses a zone identity from before the zone was deleted and created again', async () => {
    const east = await joinZone('east');
    await eventually(() => global.server.status('east')?.online, 'east online');
    await east.stop();
    zones.splice(zones.indexOf(east), 1);
    // "east" deleted and created again (its record is newer than the old intermediate).
    global.registry.set('east', {
      enabled: true,
      createdAt: new Date(Date.now() + 10 * 60_000).toISOString(),
    });
    const again = await startZone({
      name: 'east',
      dataDir: path.join(dir, 'east'),
      globalAddr: global.url,
    });
    zones.push(again);
    const error = await eventually(() => again.zone.globalSync?.status().lastError, 'a refusal');
    expect(error).to.match(/HTTP 403.*predates the zone's creation/);
  });
});

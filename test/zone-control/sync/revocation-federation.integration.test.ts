/**
 * Cross-zone revocation across a real mesh in one process: a global and two zones joined
 * with real zone tokens. Every zone trusts the same global root, so a leaf east issued and
 * revoked must be refused in west too: it reaches west's revocation list and trust bundle,
 * and a real sidecar of west refuses a real mutual TLS handshake with it (and drops the
 * connection it already had). Neither zone gets its own revocation back, and restarts
 * (of a zone; of global on an empty store) never drop one.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import { expect } from 'chai';
import { pino } from 'pino';
import {
  CA_REVOKED_PREFIX,
  createCsr,
  formatSpiffeId,
  generateKeyPair,
  openStore,
  privateKeyToPem,
  runComponents,
} from '../../../core/index.ts';
import type { Entry, RevocationRecord, Store } from '../../../core/index.ts';
import { resolveProxyOptions } from '../../../proxy/src/options.ts';
import { createProxy } from '../../../proxy/src/proxy.ts';
import type { Proxy } from '../../../proxy/src/proxy.ts';
import type { ZoneOptions } from '../../../zone-control/index.ts';
import { eventually, sleep, withTimeout } from '../../helpers/async.ts';
import { joinZone } from '../../helpers/federated-zone.ts';
import { startGlobal } from '../../helpers/global.ts';
import type { TestGlobal } from '../../helpers/global.ts';
import { echoRoundTrip } from '../../helpers/mesh-participant.ts';
import { makeGlobalKeys, startSyncGlobal } from '../../helpers/sync-global.ts';
import type { TestSyncGlobal } from '../../helpers/sync-global.ts';
import type { TestLeaf } from '../../helpers/test-ca.ts';
import { startZone } from '../../helpers/zone.ts';
import type { TestZone } from '../../helpers/zone.ts';
import { startTcpEcho } from '../../proxy/fixtures/local-apps.ts';
import type { TcpApp } from '../../proxy/fixtures/local-apps.ts';
import { closed, meshConnect } from '../../proxy/fixtures/mesh-client.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

const workload = (zone: TestZone, service: string): string =>
  formatSpiffeId({
    kind: 'workload',
    trustDomain: zone.zone.ca.state.trustDomain,
    zone: zone.zone.ca.state.zone,
    namespace: 'default',
    service,
  });

/** A leaf for `service` from the zone's CA, through its CSR API (`POST /api/ca/leaf`). */
async function issueLeaf(zone: TestZone, service: string): Promise<TestLeaf> {
  const keyPair = await generateKeyPair();
  const spiffeId = workload(zone, service);
  const res = await fetch(`${zone.url}/api/ca/leaf`, {
    method: 'POST',
    body: JSON.stringify({ spiffeId, csr: createCsr({ keyPair, spiffeId }) }),
  });
  expect(res.status, await res.clone().text()).to.equal(200);
  const body = (await res.json()) as { certificatePem: string; chainPem: string; serial: string };
  return { spiffeId, ...body, keyPem: privateKeyToPem(keyPair.privateKey) };
}

async function revoke(zone: TestZone, serial: string, reason: string): Promise<RevocationRecord> {
  const res = await fetch(`${zone.url}/api/ca/revocations`, {
    method: 'POST',
    body: JSON.stringify({ serial, reason }),
  });
  expect(res.status, await res.clone().text()).to.equal(201);
  return (await res.json()) as RevocationRecord;
}

async function revokedSerials(zone: TestZone): Promise<string[]> {
  const res = await fetch(`${zone.url}/api/ca/bundle`);
  return ((await res.json()) as { revokedSerials: string[] }).revokedSerials;
}

async function revocations(zone: TestZone): Promise<RevocationRecord[]> {
  const res = await fetch(`${zone.url}/api/ca/revocations`);
  return ((await res.json()) as { revocations: RevocationRecord[] }).revocations;
}

async function keysUnder(store: Store, prefix: string): Promise<string[]> {
  return (await store.list(prefix)).entries.map((e) => e.key.slice(prefix.length));
}

/** Whether a new mTLS connection with `leaf` gets an echo back (TLS 1.3: see echoRoundTrip). */
async function accepted(port: number, leaf: TestLeaf, roots: string[], server: string) {
  let socket: tls.TLSSocket | undefined;
  try {
    socket = await meshConnect({ port, leaf, roots, server });
    await echoRoundTrip(socket, 'hello', 5000);
    return true;
  } catch {
    return false;
  } finally {
    socket?.destroy();
  }
}

describe('cross-zone revocation (integration)', function () {
  this.timeout(120_000);
  let dir: string;
  const zones: TestZone[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cw-revoke-mesh-'));
  });

  afterEach(async () => {
    await Promise.all(zones.splice(0).map((z) => z.stop().catch(() => undefined)));
    await rm(dir, { recursive: true, force: true });
  });

  async function stopZone(zone: TestZone): Promise<void> {
    zones.splice(zones.indexOf(zone), 1);
    await zone.stop();
  }

  describe('with a global and a sidecar in west', () => {
    let global: TestGlobal | undefined;
    let app: TcpApp | undefined;
    let stopProxy: AbortController | undefined;
    let running: Promise<void> | undefined;

    afterEach(async () => {
      stopProxy?.abort();
      await running;
      await app?.close();
      await global?.stop().catch(() => undefined);
    });

    async function join(name: string, extra: ZoneOptions = {}): Promise<TestZone> {
      const zone = await joinZone(global as TestGlobal, name, dir, extra);
      zones.push(zone);
      return zone;
    }

    /** A sidecar for `web` in `zone`, in this process, in front of an echo app. */
    async function sidecar(zone: TestZone): Promise<Proxy> {
      app = await startTcpEcho();
      const bundle = (await (await fetch(`${zone.url}/api/ca/bundle`)).json()) as {
        roots: string[];
      };
      await writeFile(path.join(dir, 'roots.pem'), bundle.roots.join('\n'));
      const proxy = await createProxy(
        resolveProxyOptions({
          zoneControl: `wss://127.0.0.1:${zone.zone.proxyStream.address().port}`,
          caFile: path.join(dir, 'roots.pem'),
          service: 'web',
          port: app.port,
          address: '127.0.0.1',
          instanceId: 'web-1',
          healthCheck: 'none',
          inboundPort: 0,
          inboundAddress: '127.0.0.1',
          adminAddr: '127.0.0.1:0',
        }),
        logger,
        { stream: { backoffBaseMs: 100, backoffMaxMs: 500 } },
      );
      stopProxy = new AbortController();
      running = runComponents(proxy.components(), {
        logger,
        signal: stopProxy.signal,
        installSignals: () => () => undefined,
        drainTimeoutMs: 5000,
      }).catch(() => undefined);
      await eventually(() => proxy.tls.ready(), 'the sidecar to get its leaf');
      return proxy;
    }

    it('a leaf revoked in east is refused by west’s sidecar, listed in west’s bundle, and kept through restarts', async () => {
      global = await startGlobal();
      const east = await join('east');
      let west = await join('west');
      const proxy = await sidecar(west);
      const inbound = proxy.dataPlane.inboundPort() as number;
      const roots = [...(proxy.tls.material()?.roots ?? [])];
      const server = workload(west, 'web');

      // East's leaf chains to the global root through east's intermediate: west takes it.
      const leaf = await issueLeaf(east, 'client');
      expect(await accepted(inbound, leaf, roots, server)).to.equal(true);
      const open = await meshConnect({ port: inbound, leaf, roots, server });
      await echoRoundTrip(open, 'before the revocation');

      const record = await revoke(east, leaf.serial, 'key compromise');
      expect(record).to.include({ serial: leaf.serial, spiffeId: leaf.spiffeId });

      // West lists it as east revoked it, in its bundle and its revocation list.
      await eventually(
        async () => (await revokedSerials(west)).includes(leaf.serial),
        'west’s bundle to list the serial',
        20_000,
      );
      expect(await revocations(west)).to.deep.equal([record]);
      // West cannot revoke (or un-revoke) it: only the issuing zone can.
      const atWest = await fetch(`${west.url}/api/ca/revocations`, {
        method: 'POST',
        body: JSON.stringify({ serial: leaf.serial }),
      });
      expect(atWest.status).to.equal(404);
      // Its sidecar drops the connection it had and refuses new ones.
      await withTimeout(closed(open), 10_000, 'the sidecar to close the revoked connection');
      await eventually(
        () => proxy.tls.material()?.revokedSerials.includes(leaf.serial),
        'the sidecar’s bundle to list the serial',
      );
      expect(await accepted(inbound, leaf, roots, server)).to.equal(false);
      // A leaf east did not revoke still gets through.
      expect(await accepted(inbound, await issueLeaf(east, 'client'), roots, server)).to.equal(
        true,
      );

      // A revocation in west goes the other way; neither zone gets its own back, and west
      // does not send east's revocation to global as its own.
      const westLeaf = await issueLeaf(west, 'web');
      await revoke(west, westLeaf.serial, 'decommissioned');
      const remote = 'sync/global/remote-revocation/';
      await eventually(
        async () => (await revokedSerials(east)).includes(westLeaf.serial),
        'east’s bundle to list west’s serial',
        20_000,
      );
      expect(await keysUnder(east.zone.store, remote)).to.deep.equal([`west/${westLeaf.serial}`]);
      expect(await keysUnder(west.zone.store, remote)).to.deep.equal([`east/${leaf.serial}`]);
      const globalStore = global.global.store;
      expect(await keysUnder(globalStore, 'sync/zone/east/revocation/')).to.deep.equal([
        leaf.serial,
      ]);
      expect(await keysUnder(globalStore, 'sync/zone/west/revocation/')).to.deep.equal([
        westLeaf.serial,
      ]);
      expect((await revocations(east)).map((r) => r.serial).sort()).to.deep.equal(
        [leaf.serial, westLeaf.serial].sort(),
      );

      // West restarts (same store, same ports: the sidecar reconnects). The mirrored record
      // is never removed and written again: its create index stays.
      const mirrored = (await west.zone.store.get(CA_REVOKED_PREFIX + leaf.serial)) as Entry;
      const ports = {
        httpAddr: `127.0.0.1:${west.port}`,
        xdsAddr: `127.0.0.1:${west.zone.proxyStream.address().port}`,
      };
      await stopZone(west);
      west = await join('west', { zoneToken: undefined, ...ports });
      await eventually(
        async () => (await west.zone.store.get('sync/rev/global/remote-revocation')) !== null,
        'west resynced',
      );
      // East reconnects too (global resends nothing it acknowledged; west keeps it all).
      await stopZone(east);
      const eastAgain = await join('east', { zoneToken: undefined });
      await eventually(
        async () =>
          (await keysUnder(eastAgain.zone.store, remote)).includes(`west/${westLeaf.serial}`),
        'east resynced',
      );
      await sleep(500);
      const after = await west.zone.store.get(CA_REVOKED_PREFIX + leaf.serial);
      expect(after?.createIndex).to.equal(mirrored.createIndex);
      expect(after?.modifyIndex).to.equal(mirrored.modifyIndex);
      expect(await revokedSerials(west)).to.include(leaf.serial);
      await eventually(
        () => proxy.zoneClient?.status().connected,
        'the sidecar back on west’s stream',
        20_000,
      );
      expect(await accepted(inbound, leaf, roots, server)).to.equal(false);
    });
  });

  describe('with a global that restarts on an empty store', () => {
    let global: TestSyncGlobal | undefined;
    let globalStore: Store | undefined;

    afterEach(async () => {
      await global?.stop().catch(() => undefined);
      await globalStore?.close();
    });

    it('zones keep a revocation from a zone the new global has not heard from yet', async () => {
      const keys = await makeGlobalKeys();
      globalStore = await openStore('memory', {});
      global = await startSyncGlobal({ keys, store: globalStore });
      global.registry.set('east', { enabled: true });
      global.registry.set('west', { enabled: true });
      const joinZone = async (name: string, token: string | undefined) => {
        const zone = await startZone({
          name,
          dataDir: path.join(dir, name),
          globalAddr: (global as TestSyncGlobal).url,
          zoneToken: token,
        });
        zones.push(zone);
        return zone;
      };
      const east = await joinZone('east', global.token('east'));
      const west = await joinZone('west', global.token('west'));
      const leaf = await issueLeaf(east, 'client');
      await revoke(east, leaf.serial, 'key compromise');
      await eventually(
        async () => (await revokedSerials(west)).includes(leaf.serial),
        'west’s bundle to list the serial',
        20_000,
      );
      const mirrored = (await west.zone.store.get(CA_REVOKED_PREFIX + leaf.serial)) as Entry;
      const revisionOf = async () =>
        (await west.zone.store.get('sync/rev/global/remote-revocation'))?.value.toString();
      const revisionBefore = await revisionOf();

      // East goes away; global restarts with nothing in its store, same root and port.
      await stopZone(east);
      const port = global.server.address().port;
      await global.stop();
      await globalStore.close();
      globalStore = await openStore('memory', {});
      global = await startSyncGlobal({ keys, port, store: globalStore });
      global.registry.set('east', { enabled: true });
      global.registry.set('west', { enabled: true });

      // West gets the new global's full set, which lacks east's revocation but retains
      // east's names: west keeps it.
      await eventually(
        async () => (await revisionOf()) !== revisionBefore,
        'west to apply the new global’s full set',
        30_000,
      );
      const kept = await west.zone.store.get(CA_REVOKED_PREFIX + leaf.serial);
      expect(kept?.createIndex).to.equal(mirrored.createIndex);
      expect(await revokedSerials(west)).to.include(leaf.serial);

      // East comes back (mutual TLS) and sends its revocations again: nothing changes at west.
      await joinZone('east', undefined);
      await eventually(
        async () => (await keysUnder(globalStore as Store, 'sync/zone/east/revocation/')).length,
        'global to hold east’s revocation again',
        30_000,
      );
      await sleep(500);
      const again = await west.zone.store.get(CA_REVOKED_PREFIX + leaf.serial);
      expect(again?.modifyIndex).to.equal(mirrored.modifyIndex);
      expect(await revocations(west)).to.have.length(1);
    });
  });
});

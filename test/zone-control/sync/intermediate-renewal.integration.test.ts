/**
 * A federated zone renews its intermediate from global before it expires: a real global CA
 * (zone intermediates of 30 s) behind the real sync server, and a real zone CA and sync
 * client that look every 200 ms and renew with 27 s left (so about every 3 s).
 */
import { X509Certificate } from 'node:crypto';
import type https from 'node:https';
import { expect } from 'chai';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import {
  KeySealer,
  SYNC_PROTOCOL_VERSION,
  createCsr,
  generateKeyPair,
  normalizeSerial,
  openStore,
  privateKeyToPem,
  signLeafCertificate,
  signingCa,
  splitPem,
  verifyLeafChain,
} from '../../../core/index.ts';
import type { CaState, Store } from '../../../core/index.ts';
import { GlobalCa } from '../../../global-control/src/ca/global-ca.ts';
import { SyncServer } from '../../../global-control/src/sync/sync-server.ts';
import type { SyncRegistry } from '../../../global-control/src/sync/sync-server.ts';
import { caOverview } from '../../../zone-control/src/ca/ca-routes.ts';
import { ZoneCa } from '../../../zone-control/src/ca/zone-ca.ts';
import { GlobalSyncClient } from '../../../zone-control/src/sync/global-client.ts';
import { eventually } from '../../helpers/async.ts';
import { runInTest } from '../../helpers/run-in-test.ts';
import type { RunningInTest } from '../../helpers/run-in-test.ts';

const TD = 'causeway.mesh';
const ZONE = 'east';
const CONTROL_ID = `spiffe://${TD}/zone/${ZONE}/control`;
const WEB_ID = `spiffe://${TD}/zone/${ZONE}/ns/default/svc/web`;
const INTERMEDIATE_TTL_MS = 30_000;

/** Zones known to global, with tokens checked by the global CA's signing key. */
class Registry implements SyncRegistry {
  constructor(private readonly ca: GlobalCa) {}
  verifyToken(token: string): Promise<{ zone: string }> {
    return Promise.resolve({ zone: this.ca.verifyZoneTokenSignature(token).zone });
  }
  get(zone: string): Promise<{ enabled: boolean; createdAt: string } | undefined> {
    return Promise.resolve(
      zone === ZONE ? { enabled: true, createdAt: new Date(0).toISOString() } : undefined,
    );
  }
  names(): Promise<string[]> {
    return Promise.resolve([ZONE]);
  }
  onChange(): () => void {
    return () => undefined;
  }
}

/** The active intermediate's serial and notAfter, as `/api/ca` shows them. */
async function shownIntermediate(ca: ZoneCa): Promise<{ serial: string; notAfter: string }> {
  const overview = (await caOverview(ca)) as {
    intermediates: { serial: string; notAfter: string }[];
  };
  expect(overview.intermediates).to.have.length(1);
  const [shown] = overview.intermediates;
  return { serial: normalizeSerial(shown?.serial ?? ''), notAfter: shown?.notAfter ?? '' };
}

const serialOf = (pem: string): string => normalizeSerial(new X509Certificate(pem).serialNumber);

describe('zone intermediate renewal (global ⇄ zone)', function () {
  this.timeout(90_000);
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  let globalStore: Store;
  let zoneStore: Store;
  let globalCa: GlobalCa;
  let server: SyncServer;
  let zoneCa: ZoneCa;
  let url: string;
  let token: string;
  const sealer = KeySealer.generate();
  const running: RunningInTest[] = [];
  let client: RunningInTest | undefined;

  async function startClient(): Promise<void> {
    const sync = new GlobalSyncClient({
      globalAddr: url,
      zoneToken: token,
      zone: ZONE,
      trustDomain: TD,
      store: zoneStore,
      ca: zoneCa,
      sealer,
      logger,
      proxies: () => 0,
      minBackoffMs: 100,
      maxBackoffMs: 1000,
      renewCheckMs: 200,
      // A 30 s intermediate lives 90 s (notBefore is backdated a minute): renew with 27 s left.
      renewBelow: 27 / 90,
    });
    client = await runInTest([sync], logger, () => Promise.resolve(), 'the sync client');
  }

  async function stopClient(): Promise<void> {
    await client?.stop();
    client = undefined;
  }

  beforeEach(async () => {
    globalStore = await openStore('memory', { logger });
    zoneStore = await openStore('memory', { logger });
    globalCa = new GlobalCa(
      globalStore,
      {
        trustDomain: TD,
        sealer: KeySealer.generate(),
        keyType: 'ec',
        serverCertTtlMs: 3_600_000,
        intermediateTtlMs: INTERMEDIATE_TTL_MS,
      },
      logger,
    );
    running.push(await runInTest([globalCa], logger, () => globalCa.ready(), 'the global CA'));
    server = new SyncServer({
      addr: { host: '127.0.0.1', port: 0 },
      store: globalStore,
      ca: globalCa,
      registry: new Registry(globalCa),
      logger,
      heartbeatMs: 1000,
    });
    running.push(await runInTest([server], logger, () => server.ready(), 'the sync server'));
    url = `wss://127.0.0.1:${server.address().port}`;
    token = globalCa.issueZoneToken({ zone: ZONE, kind: 'universal', ttlMs: 3_600_000 }).token;
    zoneCa = new ZoneCa(
      zoneStore,
      {
        trustDomain: TD,
        zone: ZONE,
        sealer,
        keyType: 'ec',
        leafTtlMs: 3_600_000,
        signRatePerSecond: 1000,
        participantTtlMs: 60_000,
        federated: true,
        tickMs: 200,
      },
      logger,
    );
    running.push(await runInTest([zoneCa], logger, () => Promise.resolve(), 'the zone CA'));
  });

  afterEach(async () => {
    await stopClient();
    for (const r of running.splice(0).reverse()) await r.stop();
    await zoneStore.close();
    await globalStore.close();
  });

  /** A hand-driven zone connection: hello, then one `renew`; the answer's frame. */
  async function renewByHand(
    auth: { token: string } | { cert: string; key: string },
  ): Promise<{ type: string; code?: string; message?: string; intermediatePem?: string }> {
    const tlsOptions: https.RequestOptions = {
      ca: [globalCa.rootPem()],
      checkServerIdentity: () => undefined,
      ...('token' in auth ? { headers: { authorization: `Bearer ${auth.token}` } } : auth),
    };
    const ws = new WebSocket(url, tlsOptions);
    const frames: Record<string, unknown>[] = [];
    ws.on('message', (data: Buffer) =>
      frames.push(JSON.parse(data.toString()) as Record<string, unknown>),
    );
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.send(
        JSON.stringify({
          type: 'hello',
          protocol: SYNC_PROTOCOL_VERSION,
          zone: ZONE,
          version: 'test',
          resume: {},
          accepts: [],
        }),
      );
      const welcome = await eventually(() => frames.find((f) => f.type === 'welcome'), 'welcome');
      expect(welcome.renews).to.equal(true);
      const keyPair = await generateKeyPair();
      ws.send(JSON.stringify({ type: 'renew', csr: createCsr({ keyPair, spiffeId: CONTROL_ID }) }));
      return (await eventually(
        () => frames.find((f) => f.type === 'renewed' || f.type === 'error'),
        'an answer to renew',
      )) as { type: string };
    } finally {
      ws.close();
    }
  }

  it('renews before expiry; old and new leaves verify; reconnects with the new identity; stale intermediates and tokens cannot renew', async () => {
    await startClient();
    await eventually(async () => (await zoneCa.installed()) && zoneCa.stateIndex > 0, 'joined');
    await zoneCa.ready();
    const joined: CaState = zoneCa.state;
    const first = await shownIntermediate(zoneCa);
    const firstSigner = signingCa(joined, sealer);
    expect(serialOf(firstSigner.certificatePem)).to.equal(first.serial);
    const root = globalCa.rootPem();
    const leafKeys = await generateKeyPair();
    const before = await zoneCa.sign(createCsr({ keyPair: leafKeys, spiffeId: WEB_ID }), WEB_ID);

    // The zone renews (over mutual TLS: it reconnects off its token connection first).
    const renewed = await eventually(
      async () => {
        const shown = await shownIntermediate(zoneCa);
        return shown.serial !== first.serial ? shown : undefined;
      },
      'the zone renewed its intermediate',
      30_000,
    );
    expect(Date.parse(renewed.notAfter)).to.be.greaterThan(Date.parse(first.notAfter));
    const state = zoneCa.state;
    expect(state.bundleVersion).to.equal(joined.bundleVersion);
    expect(state.roots).to.deep.equal(joined.roots);
    const issued = (await globalCa.intermediates(ZONE)).map((i) => i.serial);
    expect(issued).to.include(first.serial).and.to.include(renewed.serial);
    expect(server.status(ZONE)?.auth).to.equal('mtls');

    // A leaf signed now chains to a renewed intermediate and verifies against the root; the
    // leaf signed before still verifies (same root, its intermediate not expired yet).
    const after = await zoneCa.sign(createCsr({ keyPair: leafKeys, spiffeId: WEB_ID }), WEB_ID);
    const [, afterIntermediate] = splitPem(after.chainPem);
    expect(serialOf(afterIntermediate ?? '')).to.not.equal(first.serial);
    expect(verifyLeafChain(after.chainPem, [root]).spiffeId).to.equal(WEB_ID);
    expect(verifyLeafChain(before.chainPem, [root]).spiffeId).to.equal(WEB_ID);
    const [, beforeIntermediate] = splitPem(before.chainPem);
    expect(serialOf(beforeIntermediate ?? '')).to.equal(first.serial);

    // Global refuses a renew from the first intermediate's holder (it is no longer the
    // newest) and one over a token connection.
    await stopClient();
    const staleKeys = await generateKeyPair();
    const staleLeaf = signLeafCertificate({
      issuer: firstSigner,
      csrPem: createCsr({ keyPair: staleKeys, spiffeId: CONTROL_ID }),
      spiffeId: CONTROL_ID,
      validityMs: 60_000,
    });
    const stale = await renewByHand({
      cert: staleLeaf + firstSigner.chainPem,
      key: privateKeyToPem(staleKeys.privateKey),
    });
    expect(stale.type).to.equal('error');
    expect(stale.code).to.equal('CW_ERR_PERMISSION_DENIED');
    expect(stale.message).to.match(/not the newest/);
    const viaToken = await renewByHand({ token });
    expect(viaToken.type).to.equal('error');
    expect(viaToken.code).to.equal('CW_ERR_PERMISSION_DENIED');
    expect(viaToken.message).to.match(/mutual-TLS/);

    // The zone reconnects over mutual TLS with a control identity under the newest
    // intermediate: global renews it again over that connection (it would refuse an older).
    const atRestart = await shownIntermediate(zoneCa);
    await startClient();
    await eventually(
      async () => {
        const shown = await shownIntermediate(zoneCa);
        return shown.serial !== atRestart.serial;
      },
      'the zone renewed again after reconnecting',
      30_000,
    );
    expect(server.status(ZONE)).to.deep.include({ online: true, auth: 'mtls' });
    const latest = await shownIntermediate(zoneCa);
    const newest = (await globalCa.intermediates(ZONE)).at(-1);
    expect(newest?.serial).to.equal(latest.serial);
  });

  it('refuses a second renewal of the same intermediate (a thief and the zone race: one wins)', async () => {
    await startClient();
    await eventually(async () => (await zoneCa.installed()) && zoneCa.stateIndex > 0, 'joined');
    await zoneCa.ready();
    await stopClient();
    // The zone's current intermediate, held by two connections in turn.
    const signer = signingCa(zoneCa.state, sealer);
    const identity = async (): Promise<{ cert: string; key: string }> => {
      const keys = await generateKeyPair();
      const leaf = signLeafCertificate({
        issuer: signer,
        csrPem: createCsr({ keyPair: keys, spiffeId: CONTROL_ID }),
        spiffeId: CONTROL_ID,
        validityMs: 60_000,
      });
      return { cert: leaf + signer.chainPem, key: privateKeyToPem(keys.privateKey) };
    };
    const winner = await renewByHand(await identity());
    expect(winner.type, JSON.stringify(winner)).to.equal('renewed');
    const loser = await renewByHand(await identity());
    expect(loser.type).to.equal('error');
    expect(loser.code).to.equal('CW_ERR_PERMISSION_DENIED');
  });
});

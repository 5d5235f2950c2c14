/**
 * The global CA: a root created once (also when two replicas start together), kept across
 * restarts with its keys sealed at rest, signing zone intermediates only for the zone's
 * own control identity, and the global's own root-signed certificate, renewed before it
 * expires.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import {
  ConfigError,
  ConflictError,
  KeySealer,
  PermissionDeniedError,
  createCsr,
  formatSpiffeId,
  generateKeyPair,
  openStore,
  signLeafCertificate,
  verifyGlobalChain,
  verifyLeafChain,
} from '../../core/index.ts';
import type { Store } from '../../core/index.ts';
import { GLOBAL_ROOT_KEY, GlobalCa, createGlobal } from '../../global-control/index.ts';
import { eventually } from '../helpers/async.ts';
import { startGlobal } from '../helpers/global.ts';
import type { TestGlobal } from '../helpers/global.ts';

const silent = pino({ level: 'silent' });
const TD = 'causeway.mesh';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

async function zoneCsr(zone: string, forZone = zone) {
  const keyPair = await generateKeyPair();
  const csrPem = createCsr({
    keyPair,
    spiffeId: formatSpiffeId({ kind: 'control', trustDomain: TD, zone: forZone }),
  });
  return { keyPair, csrPem };
}

describe('global CA (integration)', function () {
  this.timeout(30_000);
  let dir: string;
  const started: TestGlobal[] = [];
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'cw-global-ca-'));
  });
  afterEach(async function () {
    for (const g of started.splice(0)) await g.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const start = async (...args: Parameters<typeof startGlobal>) => {
    const g = await startGlobal(...args);
    started.push(g);
    return g;
  };

  it('keeps the root across a restart, with no private key in any file', async function () {
    const first = await start({ dataDir: dir });
    const root = first.global.ca.root;
    const zone = await zoneCsr('east');
    await first.global.ca.signZoneIntermediate('east', zone.csrPem);
    await first.stop();
    started.splice(0);

    for (const file of filesUnder(dir)) {
      expect(readFileSync(file, 'latin1'), file).not.to.include('PRIVATE KEY');
    }
    const stored = filesUnder(dir)
      .map((f) => readFileSync(f, 'latin1'))
      .join('\n');
    expect(stored).to.include('cw-sealed:v1:');

    const second = await start({ dataDir: dir });
    expect(second.global.ca.root).to.deep.equal(root);
    expect(second.global.ca.rootPin()).to.equal(root.pin);
    const intermediates = await second.global.ca.intermediates('east');
    expect(intermediates).to.have.length(1);
    // The reloaded root still signs, and its signatures chain to the same root.
    const again = await zoneCsr('east');
    const signed = await second.global.ca.signZoneIntermediate('east', again.csrPem);
    expect(signed.rootPem).to.equal(root.certificatePem);
  });

  it('signs a zone intermediate whose leaves verify against the root, and lists it in /api/ca', async function () {
    const g = await start();
    const zone = await zoneCsr('east');
    const signed = await g.global.ca.signZoneIntermediate('east', zone.csrPem);
    const cert = new X509Certificate(signed.certificatePem);
    expect(cert.ca).to.equal(true);
    expect(cert.subject).to.include('OU=zone/east');
    expect(cert.checkIssued(new X509Certificate(g.global.ca.rootPem()))).to.equal(true);

    const leafKey = await generateKeyPair();
    const spiffeId = formatSpiffeId({
      kind: 'workload',
      trustDomain: TD,
      zone: 'east',
      namespace: 'default',
      service: 'api',
    });
    const leaf = signLeafCertificate({
      issuer: { certificatePem: signed.certificatePem, privateKey: zone.keyPair.privateKey },
      spiffeId,
      csrPem: createCsr({ keyPair: leafKey, spiffeId }),
    });
    expect(
      verifyLeafChain([leaf, signed.certificatePem], [g.global.ca.rootPem()]).spiffeId,
    ).to.equal(spiffeId);

    const body = (await (await g.api('/api/ca')).json()) as {
      trustDomain: string;
      root: { id: string; pin: string; notAfter: string };
      serverIdentity: { spiffeId: string };
      intermediates: {
        zone: string;
        serial: string;
        issuedAt: string;
        notAfter: string;
        expired: boolean;
      }[];
    };
    expect(body.trustDomain).to.equal(TD);
    expect(body.root.pin).to.equal(g.global.ca.rootPin());
    expect(body.serverIdentity.spiffeId).to.equal(`spiffe://${TD}/global`);
    expect(body.intermediates).to.deep.equal([
      {
        zone: 'east',
        serial: signed.serial,
        spiffeId: `spiffe://${TD}/zone/east/control`,
        rootId: body.root.id,
        issuedAt: body.intermediates[0]?.issuedAt,
        notAfter: signed.notAfter.toISOString(),
        expired: false,
      },
    ]);
  });

  it("refuses a CSR for another zone's identity, and a CSR that is not one", async function () {
    const g = await start();
    const west = await zoneCsr('east', 'west');
    let err: unknown;
    try {
      await g.global.ca.signZoneIntermediate('east', west.csrPem);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(PermissionDeniedError);
    expect((err as Error).message).to.include('spiffe://causeway.mesh/zone/west/control');
    expect(await g.global.ca.intermediates('east')).to.deep.equal([]);
    let bad: unknown;
    try {
      await g.global.ca.signZoneIntermediate('east', 'not a csr');
    } catch (e) {
      bad = e;
    }
    expect((bad as { field?: string }).field).to.equal('csr');
  });

  it('serves its own root-signed identity and renews it before it expires', async function () {
    const g = await start({ serverCertTtl: '10s' });
    const first = await g.global.ca.serverIdentity();
    const verified = verifyGlobalChain(first.certificatePem, [first.rootPem], { trustDomain: TD });
    expect(verified.spiffeId).to.equal(`spiffe://${TD}/global`);
    expect(first.privateKeyPem).to.include('PRIVATE KEY');
    const renewed: string[] = [];
    const stop = g.global.ca.onServerIdentityChange((id) => renewed.push(id.serial));
    try {
      // Renewal at ~80% (minus up to 5% jitter) of the life, counted from issuance.
      await eventually(() => renewed.length > 0, 'a renewed server certificate', 20_000, 100);
    } finally {
      stop();
    }
    const second = await g.global.ca.serverIdentity();
    expect(second.serial).to.equal(renewed[0]);
    expect(second.serial).not.to.equal(first.serial);
    expect(second.notAfter.getTime()).to.be.greaterThan(first.notAfter.getTime());
  });

  describe('on one store shared by two replicas', function () {
    let store: Store;
    beforeEach(async function () {
      store = await openStore('memory', {});
    });
    afterEach(async function () {
      await store.close();
    });
    const ca = (sealer: KeySealer, trustDomain = TD) =>
      new GlobalCa(store, { trustDomain, sealer, keyType: 'ec', serverCertTtlMs: 60_000 }, silent);

    it('creates one root and one token key when both start at once', async function () {
      const sealer = KeySealer.generate();
      const [a, b] = [ca(sealer), ca(sealer)];
      await Promise.all([a.load(), b.load()]);
      expect(a.rootPin()).to.equal(b.rootPin());
      // A token one replica signs, the other verifies.
      const { token } = a.issueZoneToken({ zone: 'east', kind: 'universal', ttlMs: 60_000 });
      expect(b.verifyZoneTokenSignature(token).zone).to.equal('east');
    });

    it('refuses a store holding another trust domain, and a wrong sealing key', async function () {
      const sealer = KeySealer.generate();
      await ca(sealer).load();
      let err: unknown;
      try {
        await ca(sealer, 'other.mesh').load();
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ConflictError);
      expect((err as Error).message).to.include('trust domain causeway.mesh, not other.mesh');
      let sealed: unknown;
      try {
        await ca(KeySealer.generate()).load();
      } catch (e) {
        sealed = e;
      }
      expect(sealed).to.be.instanceOf(ConfigError);
      expect((sealed as Error).message).to.include(`${GLOBAL_ROOT_KEY} was sealed with`);
    });
  });

  it('needs a sealing key on a shared store', async function () {
    let err: unknown;
    try {
      await createGlobal({ store: 'redis://127.0.0.1:1', httpAddr: '127.0.0.1:0' }, silent);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as Error).message).to.match(/^the global control plane on a shared store/);
  });
});

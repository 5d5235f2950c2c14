/**
 * The zone CA across restarts: keys sealed at rest, the same root after a restart, leaf
 * records kept (so serials are never reused), a clear refusal when the sealing key is
 * wrong or missing, and a provided root CA.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import {
  ConfigError,
  PermissionDeniedError,
  runComponents,
  splitPem,
  verifyLeafChain,
} from '../../core/index.ts';
import { createZone } from '../../zone-control/index.ts';
import type { ZoneOptions } from '../../zone-control/index.ts';
import { requestLeaf, workloadId } from '../helpers/ca.ts';
import { startRedis } from '../helpers/redis-server.ts';
import { raceTimeout } from '../helpers/async.ts';
import { startZone } from '../helpers/zone.ts';

const web = workloadId('web');
const silent = pino({ level: 'silent' });

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

/** What `createZone` throws for `options`; fails the test if it does not throw. */
async function createZoneError(options: ZoneOptions): Promise<unknown> {
  try {
    await createZone(options, silent);
  } catch (err) {
    return err;
  }
  throw new Error('expected createZone to refuse the options');
}

async function rootId(url: string): Promise<string> {
  const body = (await (await fetch(`${url}/v1/connect/ca/roots`)).json()) as {
    ActiveRootID: string;
  };
  return body.ActiveRootID;
}

describe('zone CA persistence (integration)', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'cw-ca-'));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the root and the leaf records across a restart, with keys sealed at rest', async function () {
    const first = await startZone({ dataDir: dir });
    const root = await rootId(first.url);
    const leaf = (await (await requestLeaf(first, web)).json()) as { serial: string };
    await first.stop();

    const keyFile = join(dir, 'ca-encryption.key');
    expect(statSync(keyFile).mode & 0o777).to.equal(0o600);
    for (const file of filesUnder(dir)) {
      const text = readFileSync(file, 'latin1');
      expect(text, file).not.to.include('PRIVATE KEY');
    }
    const stored = filesUnder(dir)
      .map((f) => readFileSync(f, 'latin1'))
      .join('\n');
    expect(stored).to.include('cw-sealed:v1:');

    const second = await startZone({ dataDir: dir });
    try {
      expect(await rootId(second.url)).to.equal(root);
      // The first process's leaf is still on record: it can be revoked after the restart.
      const revoked = await fetch(`${second.url}/api/ca/revocations`, {
        method: 'POST',
        body: JSON.stringify({ serial: leaf.serial }),
      });
      expect(revoked.status).to.equal(201);
      const next = (await (await requestLeaf(second, web)).json()) as { serial: string };
      expect(next.serial).not.to.equal(leaf.serial);
      // A blocking agent-leaf read holds even though the CA state's index predates this
      // process's store history (it used to answer at once, and clients spun).
      const agent = await fetch(`${second.url}/v1/agent/connect/ca/leaf/web`);
      await agent.json();
      const index = agent.headers.get('x-consul-index');
      const blocked = fetch(`${second.url}/v1/agent/connect/ca/leaf/web?index=${index}&wait=1s`);
      expect((await raceTimeout(blocked, 500)).timedOut, 'the read should block').to.equal(true);
      expect((await blocked).headers.get('x-consul-index')).to.equal(index);
    } finally {
      await second.stop();
    }
  });

  it('refuses to start with another sealing key, naming both key ids', async function () {
    const key = randomBytes(32).toString('base64');
    const first = await startZone({ dataDir: dir, caEncryptionKey: key });
    await first.stop();
    const zone = await createZone(
      {
        name: 'test',
        dev: true,
        dataDir: dir,
        httpAddr: '127.0.0.1:0',
        caEncryptionKey: randomBytes(32).toString('base64'),
      },
      silent,
    );
    const err = await runComponents(zone.components(), {
      logger: silent,
      installSignals: () => () => undefined,
      drainTimeoutMs: 2000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as Error).message).to.match(
      /sealed with CA encryption key [0-9a-f]{16}, but this process has key [0-9a-f]{16}/,
    );
  });

  it('needs an explicit sealing key on a shared store', async function () {
    const redis = await startRedis();
    try {
      const err = await createZoneError({
        name: 'test',
        dev: true,
        store: redis.url,
        httpAddr: '127.0.0.1:0',
      });
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as Error).message).to.include('CAUSEWAY_CA_ENCRYPTION_KEY');
    } finally {
      await redis.stop();
    }
  });

  it('uses a provided root made by openssl, and refuses a key that does not match', async function () {
    const cert = join(dir, 'root.pem');
    const key = join(dir, 'root.key');
    const made = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/O=Example Corp/CN=Example Root CA',
      '-days',
      '30',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    expect(made.status, made.stderr.toString()).to.equal(0);
    const zone = await startZone({ caCertFile: cert, caKeyFile: key });
    try {
      const expected = new X509Certificate(readFileSync(cert)).fingerprint.toLowerCase();
      expect(await rootId(zone.url)).to.equal(expected);
      const leaf = await requestLeaf(zone, web);
      expect(leaf.status).to.equal(200);
    } finally {
      await zone.stop();
    }

    const otherKey = join(dir, 'other.key');
    spawnSync('openssl', [
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      otherKey,
    ]);
    const err = await createZoneError({
      name: 'test',
      dev: true,
      caCertFile: cert,
      caKeyFile: otherKey,
    });
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as Error).message).to.include('does not match');
  });

  it('uses a provided intermediate given with its root, and serves leaves with that chain', async function () {
    const openssl = (...args: string[]) => {
      const run = spawnSync('openssl', args);
      expect(run.status, run.stderr.toString()).to.equal(0);
    };
    const file = (name: string) => join(dir, name);
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    openssl(
      'req',
      '-x509',
      ...ec,
      '-subj',
      '/CN=Corp Root',
      '-days',
      '30',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout',
      file('root.key'),
      '-out',
      file('root.pem'),
    );
    openssl(
      'req',
      '-new',
      ...ec,
      '-subj',
      '/CN=Corp Mesh Intermediate',
      '-keyout',
      file('int.key'),
      '-out',
      file('int.csr'),
    );
    /** The intermediate's CSR signed by the root, with basicConstraints pathlen `pathLen`. */
    const signIntermediate = (pathLen: number, out: string): void => {
      const ext = file(`ext${pathLen}.cnf`);
      writeFileSync(
        ext,
        `basicConstraints=critical,CA:TRUE,pathlen:${pathLen}\nkeyUsage=critical,keyCertSign,cRLSign\n`,
      );
      openssl(
        'x509',
        '-req',
        '-in',
        file('int.csr'),
        '-CA',
        file('root.pem'),
        '-CAkey',
        file('root.key'),
        '-CAcreateserial',
        '-days',
        '20',
        '-extfile',
        ext,
        '-out',
        file(out),
      );
    };
    signIntermediate(1, 'int.pem');
    const intPem = readFileSync(file('int.pem'), 'utf8');
    const rootPem = readFileSync(file('root.pem'), 'utf8');

    // Without its root, an intermediate cannot anchor anything.
    writeFileSync(file('int-only.pem'), intPem);
    const err = await createZoneError({
      name: 'test',
      dev: true,
      caCertFile: file('int-only.pem'),
      caKeyFile: file('int.key'),
    });
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as Error).message).to.include('not self-signed');

    // An intermediate with path length 0 could not sign our zone intermediate.
    signIntermediate(0, 'int0.pem');
    writeFileSync(file('chain0.pem'), readFileSync(file('int0.pem'), 'utf8') + rootPem);
    const pathLen = await createZoneError({
      name: 'test',
      dev: true,
      caCertFile: file('chain0.pem'),
      caKeyFile: file('int.key'),
    });
    expect(pathLen).to.be.instanceOf(ConfigError);
    expect((pathLen as Error).message).to.include('path length 0');

    writeFileSync(file('chain.pem'), intPem + rootPem);
    const zone = await startZone({ caCertFile: file('chain.pem'), caKeyFile: file('int.key') });
    try {
      expect(await rootId(zone.url)).to.equal(
        new X509Certificate(rootPem).fingerprint.toLowerCase(),
      );
      const leaf = (await (await requestLeaf(zone, web)).json()) as {
        certificatePem: string;
        chainPem: string;
        trustBundle: string[];
      };
      // leaf, zone intermediate, provided intermediate; the root is the only anchor.
      expect(splitPem(leaf.chainPem)).to.have.length(3);
      expect(leaf.trustBundle).to.have.length(1);
      expect(verifyLeafChain(leaf.chainPem, leaf.trustBundle).spiffeId).to.equal(web);
      writeFileSync(file('leaf.pem'), leaf.certificatePem);
      writeFileSync(file('untrusted.pem'), splitPem(leaf.chainPem).slice(1).join('\n') + '\n');
      const verify = spawnSync('openssl', [
        'verify',
        '-CAfile',
        file('root.pem'),
        '-untrusted',
        file('untrusted.pem'),
        file('leaf.pem'),
      ]);
      expect(verify.stdout.toString(), verify.stderr.toString()).to.include('OK');
      // Without the provided intermediate the chain does not reach the root.
      expect(() => verifyLeafChain(splitPem(leaf.chainPem).slice(0, 2), leaf.trustBundle)).to.throw(
        PermissionDeniedError,
      );
      const roots = (await (await fetch(`${zone.url}/v1/connect/ca/roots`)).json()) as {
        Roots: { IntermediateCerts: string[] }[];
      };
      expect(roots.Roots[0]?.IntermediateCerts).to.have.length(2);
    } finally {
      await zone.stop();
    }
  });
});

import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ConfigError } from '../../core/index.ts';
import { loadGatewayBootstrap } from '../../gateway/index.ts';
import { TestCa } from '../helpers/test-ca.ts';
import { writeGatewayBootstrap } from './fixtures/bootstrap-files.ts';
import { gatewayIdentity } from './fixtures/gateway-certs.ts';

/** The ConfigError loading `file` throws. */
async function refusal(file: string): Promise<ConfigError> {
  try {
    await loadGatewayBootstrap(file);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  expect.fail('expected the bootstrap file to be refused');
}

describe('loadGatewayBootstrap', () => {
  let ca: TestCa;
  let dir: string;

  before(async () => {
    ca = await TestCa.create();
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cw-gw-boot-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the identity, the listeners and the config (defaults filled)', async () => {
    const { file, identity } = await writeGatewayBootstrap(dir, ca, {
      zone: 'west',
      name: 'west-gw',
      config: { services: [{ service: 'api', exportedTo: ['east'], endpoints: [] }] },
      extra: { name: 'west-gw', publicListen: { address: '0.0.0.0', port: 15443 } },
    });
    const boot = await loadGatewayBootstrap(file);
    expect(boot.spiffeId).to.equal(identity.spiffeId);
    expect(boot.identityName).to.equal('west-gw');
    expect(boot.name).to.equal('west-gw');
    expect(boot.publicListen).to.deep.equal({ host: '0.0.0.0', port: 15443 });
    expect(boot.localListen).to.deep.equal({ host: '127.0.0.1', port: 0 });
    expect(boot.identity.keyPem).to.equal(identity.keyPem);
    expect(boot.identity.roots).to.deep.equal([ca.rootPem.trim()]);
    expect(boot.config.services[0]).to.deep.include({ namespace: 'default', exportedTo: ['east'] });
    expect(boot.config.tunnels.maxStreamsPerSession).to.equal(100);
  });

  it('names the file and the field of each mistake', async () => {
    const { doc } = await writeGatewayBootstrap(dir, ca, { zone: 'west', name: 'west-gw' });
    const web = await ca.leaf('web', { zone: 'west' });
    writeFileSync(join(dir, 'web.pem'), web.chainPem);
    writeFileSync(join(dir, 'web-key.pem'), web.keyPem);
    const east = await gatewayIdentity(ca, 'east', 'west-gw');
    writeFileSync(join(dir, 'east.pem'), east.chainPem);
    writeFileSync(join(dir, 'east-key.pem'), east.keyPem);
    const identity = doc.identity as Record<string, unknown>;
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['typo', { ...doc, tunnel: {} }, /tunnel: unknown field/],
      [
        'identity.keyFile',
        { ...doc, identity: { ...identity, keyFile: 'web-key.pem' } },
        /is not the key/,
      ],
      [
        'identity.certFile',
        { ...doc, identity: { ...identity, certFile: 'web.pem', keyFile: 'web-key.pem' } },
        /is not a gateway identity/,
      ],
      [
        'identity.certFile',
        { ...doc, identity: { ...identity, certFile: 'east.pem', keyFile: 'east-key.pem' } },
        /is not a gateway of zone west/,
      ],
      ['identity.certFile', { ...doc, name: 'other' }, /is not the gateway named other/],
      [
        'identity.rootsFile',
        { ...doc, identity: { ...identity, rootsFile: 'missing.pem' } },
        /cannot read/,
      ],
      [
        'identity.revokedSerials',
        { ...doc, identity: { ...identity, revokedSerials: ['XY'] } },
        /lowercase hex/,
      ],
      [
        'config.services[0].service',
        { ...doc, config: { ...(doc.config as object), services: [{ service: 'A' }] } },
        /DNS label/,
      ],
      ['publicListen.port', { ...doc, publicListen: { port: 70000 } }, /port number/],
      ['name', { ...doc, name: 'Bad Name' }, /DNS label/],
    ];
    for (const [field, broken, message] of cases) {
      const file = join(dir, 'broken.yaml');
      writeFileSync(file, stringify(broken));
      const err = await refusal(file);
      expect(err.field, field).to.equal(field === 'typo' ? 'tunnel' : field);
      expect(err.message, field).to.match(message);
      expect(err.message, field).to.contain('broken.yaml: ');
    }
  });

  it('refuses a chain that does not verify against the roots', async () => {
    const other = await TestCa.create();
    const { file } = await writeGatewayBootstrap(dir, ca, { zone: 'west', name: 'west-gw' });
    writeFileSync(join(dir, 'roots.pem'), other.rootPem);
    const err = await refusal(file);
    expect(err.field).to.equal('identity.certFile');
    expect(err.message).to.match(/does not verify against identity.rootsFile/);
  });
});

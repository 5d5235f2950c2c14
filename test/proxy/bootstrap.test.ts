import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConfigError } from '../../core/index.ts';
import { loadBootstrap } from '../../proxy/src/bootstrap.ts';
import { snapshot } from './fixtures/configs.ts';
import { TestCa } from '../helpers/test-ca.ts';
import type { TestLeaf } from '../helpers/test-ca.ts';

describe('static bootstrap loader', function () {
  this.timeout(10_000);
  let dir: string;
  let ca: TestCa;
  let leaf: TestLeaf;
  let stranger: TestLeaf;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'causeway-bootstrap-'));
    ca = await TestCa.create();
    leaf = await ca.leaf('api');
    stranger = await (await TestCa.create()).leaf('api');
    writeFileSync(join(dir, 'leaf.pem'), leaf.chainPem);
    writeFileSync(join(dir, 'leaf-key.pem'), leaf.keyPem);
    writeFileSync(join(dir, 'other-key.pem'), stranger.keyPem);
    writeFileSync(join(dir, 'stranger.pem'), stranger.chainPem);
    writeFileSync(join(dir, 'roots.pem'), ca.rootPem);
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  const good = () => ({
    admin: { address: '127.0.0.1', port: 0 },
    app: { port: 8080 },
    identity: { certFile: 'leaf.pem', keyFile: 'leaf-key.pem', rootsFile: 'roots.pem' },
    config: snapshot({ service: 'api' }),
  });

  function write(name: string, doc: unknown): string {
    const file = join(dir, name);
    writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
    return file;
  }

  async function refusal(doc: unknown): Promise<ConfigError> {
    const err = await loadBootstrap(write('b.yaml', doc)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }

  it('loads identity and config, resolving paths against the file and filling defaults', async function () {
    const boot = await loadBootstrap(write('ok.json', good()));
    expect(boot.admin).to.deep.equal({ host: '127.0.0.1', port: 0 });
    expect(boot.inboundAddress).to.equal('0.0.0.0');
    expect(boot.app).to.deep.equal({ address: '127.0.0.1', port: 8080 });
    expect(boot.spiffeId).to.equal(leaf.spiffeId);
    expect(boot.identity.roots).to.deep.equal([ca.rootPem.trim()]);
    expect(boot.identity.revokedSerials).to.deep.equal([]);
    expect(boot.config.inbound.authorization.defaultAction).to.equal('allow');
  });

  it('reads YAML', async function () {
    const boot = await loadBootstrap(
      write(
        'ok.yaml',
        `app: { port: 9000 }\nidentity:\n  certFile: leaf.pem\n  keyFile: leaf-key.pem\n  rootsFile: roots.pem\nconfig: ${JSON.stringify(snapshot())}\n`,
      ),
    );
    expect(boot.app.port).to.equal(9000);
    expect(boot.admin).to.equal(undefined);
  });

  it('names the file and the field of every mistake', async function () {
    const cases: [unknown, RegExp][] = [
      ['a: [', /b\.yaml is not valid YAML or JSON/],
      [[1, 2], /b\.yaml: \(root\): the file must hold an object/],
      [{ ...good(), extra: 1 }, /b\.yaml: extra: unknown field/],
      [{ ...good(), app: { port: 0 } }, /b\.yaml: app\.port: must be a port number 1-65535/],
      [{ ...good(), admin: { port: 70000 } }, /admin\.port/],
      [
        { ...good(), identity: { keyFile: 'leaf-key.pem', rootsFile: 'roots.pem' } },
        /identity\.certFile: is required/,
      ],
      [
        { ...good(), identity: { ...good().identity, certFile: 'missing.pem' } },
        /identity\.certFile: cannot read .*missing\.pem/,
      ],
      [
        { ...good(), identity: { ...good().identity, keyFile: 'other-key.pem' } },
        /identity\.keyFile: is not the key of the certificate/,
      ],
      [
        {
          ...good(),
          identity: { certFile: 'stranger.pem', keyFile: 'other-key.pem', rootsFile: 'roots.pem' },
        },
        /identity\.certFile: the certificate chain does not verify/,
      ],
      [
        { ...good(), identity: { ...good().identity, revokedSerials: ['XYZ'] } },
        /identity\.revokedSerials/,
      ],
      [{ ...good(), config: snapshot({ clusters: 'x' }) }, /b\.yaml: config\.clusters: /],
      [
        { ...good(), config: snapshot({ trustDomain: 'other.mesh' }) },
        /not in the config's trust domain other\.mesh/,
      ],
    ];
    for (const [doc, message] of cases) {
      expect((await refusal(doc)).message).to.match(message);
    }
    const missing = await loadBootstrap(join(dir, 'nope.yaml')).catch((e: unknown) => e);
    expect(missing).to.be.instanceOf(ConfigError);
    expect((missing as Error).message).to.match(/cannot read the bootstrap file .*nope\.yaml/);
  });
});

/**
 * `causeway zone …` against a real global control plane started in this process (with an
 * admin token), through the in-process CLI harness.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { decodeZoneToken, openStore } from '../../core/index.ts';
import type { Store } from '../../core/index.ts';
import { TEST_ADMIN_TOKEN, startGlobal } from '../helpers/global.ts';
import type { TestGlobal } from '../helpers/global.ts';
import { Harness } from './harness.ts';

describe('causeway zone (integration)', function () {
  this.timeout(30_000);
  let global: TestGlobal;
  let store: Store;
  let dir: string;
  let env: Record<string, string>;

  before(async function () {
    global = await startGlobal({ dev: false });
    store = await openStore('memory', {});
    env = {
      CAUSEWAY_GLOBAL_ADDR: `127.0.0.1:${global.port}`,
      CAUSEWAY_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    };
  });
  after(async function () {
    await global.stop();
    await store.close();
  });
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'cw-zone-cli-'));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  const run = async (...args: string[]) => {
    const h = new Harness(store, { env });
    const code = await h.run(...args);
    return { code, out: h.stdout.text, err: h.stderr.text };
  };

  it('creates a zone and prints only its token on stdout', async function () {
    const { code, out, err } = await run(
      'zone',
      'create',
      'east',
      '--kind',
      'kubernetes',
      '--ttl',
      '2h',
    );
    expect(code, err).to.equal(0);
    const token = out.trim();
    expect(out.split('\n').filter(Boolean)).to.have.length(1);
    const payload = decodeZoneToken(token);
    expect(payload).to.deep.include({
      zone: 'east',
      kind: 'kubernetes',
      rootPin: global.global.ca.rootPin(),
    });
    expect(payload.exp - payload.iat).to.equal(7200);
    expect(err).to.match(/^created zone east \(kubernetes\); the token above expires /);
    await global.global.zones.verifyToken(token, 'east');
  });

  it('writes the token to --output with mode 0600, reading the admin token from --token-file', async function () {
    const tokenFile = join(dir, 'admin');
    writeFileSync(tokenFile, `${TEST_ADMIN_TOKEN}\n`);
    const output = join(dir, 'zone.token');
    writeFileSync(output, 'old', { mode: 0o644 });
    const h = new Harness(store, { env: { CAUSEWAY_GLOBAL_ADDR: global.url } });
    const code = await h.run(
      'zone',
      'create',
      'filed',
      '--kind',
      'universal',
      '--token-file',
      tokenFile,
      '--output',
      output,
    );
    expect(code, h.stderr.text).to.equal(0);
    expect(h.stdout.text).to.equal('');
    expect(statSync(output).mode & 0o777).to.equal(0o600);
    expect(decodeZoneToken(readFileSync(output, 'utf8')).zone).to.equal('filed');
  });

  it('lists zones as a table and as JSON', async function () {
    await run('zone', 'create', 'listed', '--kind', 'universal');
    const table = await run('zone', 'list');
    expect(table.code).to.equal(0);
    const lines = table.out.trim().split('\n');
    expect(lines[0]).to.match(/^NAME\s+KIND\s+ENABLED\s+ONLINE\s+LAST SEEN\s+LAG$/);
    expect(lines.find((l) => l.startsWith('listed '))).to.match(
      /^listed\s+universal\s+yes\s+no\s+-\s+-$/,
    );
    const json = await run('zone', 'list', '--json');
    const parsed = JSON.parse(json.out) as { zones: { name: string }[] };
    expect(parsed.zones.map((z) => z.name)).to.include('listed');
  });

  it('rotates tokens: the old one stops working, the new one works', async function () {
    const old = (await run('zone', 'create', 'rot', '--kind', 'universal')).out.trim();
    const rotated = await run('zone', 'token', 'rot', '--rotate');
    expect(rotated.code, rotated.err).to.equal(0);
    expect(rotated.err).to.include('rotated the tokens of zone rot: older tokens no longer work');
    await global.global.zones.verifyToken(rotated.out.trim(), 'rot');
    let refused: unknown;
    try {
      await global.global.zones.verifyToken(old, 'rot');
    } catch (err) {
      refused = err;
    }
    expect(String(refused)).to.include('revoked by a rotation');
  });

  it('disables, enables and deletes a zone', async function () {
    const token = (await run('zone', 'create', 'cycle', '--kind', 'universal')).out.trim();
    expect(await run('zone', 'disable', 'cycle')).to.deep.include({
      code: 0,
      out: 'disabled zone cycle\n',
    });
    expect((await global.global.zones.get('cycle'))?.enabled).to.equal(false);
    expect(await run('zone', 'enable', 'cycle')).to.deep.include({
      code: 0,
      out: 'enabled zone cycle\n',
    });
    await global.global.zones.verifyToken(token, 'cycle');
    const deleted = await run('zone', 'delete', 'cycle');
    expect(deleted).to.deep.include({
      code: 0,
      out: 'deleted zone cycle and its synced resources\n',
    });
    expect(await global.global.zones.get('cycle')).to.equal(undefined);
    const again = await run('zone', 'delete', 'cycle');
    expect(again.code).to.equal(1);
    expect(again.err).to.equal('error: zone "cycle" does not exist (CW_ERR_NOT_FOUND)\n');
  });

  it('exits 2 naming the field for a bad kind, and 1 without the admin token', async function () {
    const bad = await run('zone', 'create', 'x', '--kind', 'vm');
    expect(bad.code).to.equal(2);
    expect(bad.err).to.include('kind must be "kubernetes" or "universal"');
    const h = new Harness(store, { env: { CAUSEWAY_GLOBAL_ADDR: global.url } });
    expect(await h.run('zone', 'list')).to.equal(1);
    expect(h.stderr.text).to.include('this API needs the admin token');
    expect(h.stderr.text).to.include('(pass --token-file or set CAUSEWAY_ADMIN_TOKEN)');
  });

  it('says where it could not reach the global', async function () {
    const h = new Harness(store, { env: { CAUSEWAY_ADMIN_TOKEN: TEST_ADMIN_TOKEN } });
    expect(await h.run('zone', 'list', '--global', 'http://127.0.0.1:1')).to.equal(2);
    expect(h.stderr.text).to.include('cannot reach the global control plane at http://127.0.0.1:1');
  });
});

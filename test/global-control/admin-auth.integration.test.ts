/**
 * The admin token on the global's API: required without --dev (401 without one, 403 for a
 * wrong one, health open), given by the operator or generated at the first start and kept
 * in the data directory (0600), the store holding only its hash.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { ConfigError } from '../../core/index.ts';
import { ADMIN_TOKEN_FILE, ADMIN_TOKEN_KEY, createGlobal } from '../../global-control/index.ts';
import { TEST_ADMIN_TOKEN, startGlobal } from '../helpers/global.ts';
import type { TestGlobal } from '../helpers/global.ts';

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  return ((await res.json()) as { error: { code: string; message: string } }).error;
}

describe('global admin token (integration)', function () {
  this.timeout(30_000);
  let dir: string;
  const started: TestGlobal[] = [];
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'cw-global-auth-'));
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

  it('asks for the token without --dev: 401 without one, 403 for a wrong one, 200 with it', async function () {
    const g = await start({ dev: false });
    const none = await g.api('/api/zones', { token: null });
    expect(none.status).to.equal(401);
    expect(none.headers.get('www-authenticate')).to.equal('Bearer realm="causeway"');
    expect((await errorOf(none)).message).to.include('this API needs the admin token');
    const wrong = await g.api('/api/zones', { token: 'not-the-admin-token' });
    expect(wrong.status).to.equal(403);
    expect((await errorOf(wrong)).message).to.equal('the token presented is not the admin token');
    const basic = await fetch(`${g.url}/api/zones`, { headers: { Authorization: 'Basic eDp5' } });
    expect(basic.status).to.equal(401);
    expect((await errorOf(basic)).message).to.include('must be "Bearer <admin token>"');
    expect((await g.api('/api/zones')).status).to.equal(200);
    const viaHeader = await fetch(`${g.url}/api/zones`, {
      headers: { 'X-Causeway-Token': TEST_ADMIN_TOKEN },
    });
    expect(viaHeader.status).to.equal(200);
    // Every endpoint but health, and unknown paths too (they reveal nothing without it).
    for (const path of ['/api/services', '/api/gateways', '/api/ca', '/api/zones/x', '/nope']) {
      expect((await g.api(path, { token: null })).status, path).to.equal(401);
    }
    expect((await g.api('/api/health', { token: null })).status).to.equal(200);
  });

  it('takes the token from --admin-token-file', async function () {
    const file = join(dir, 'admin');
    writeFileSync(file, 'a-token-from-a-file-123456\n');
    const g = await start({ dev: false, adminTokenFile: file });
    expect((await g.api('/api/zones', { token: 'a-token-from-a-file-123456' })).status).to.equal(
      200,
    );
    expect((await g.api('/api/zones', { token: TEST_ADMIN_TOKEN })).status).to.equal(403);
  });

  it('refuses a short token and an unreadable token file at start', async function () {
    const silent = pino({ level: 'silent' });
    for (const [options, field] of [
      [{ adminToken: 'short' }, 'adminToken'],
      [{ adminTokenFile: join(dir, 'missing') }, 'adminTokenFile'],
    ] as const) {
      let err: unknown;
      try {
        await createGlobal({ ...options, httpAddr: '127.0.0.1:0' }, silent);
      } catch (e) {
        err = e;
      }
      expect(err, field).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).field).to.equal(field);
    }
  });

  it('generates a token at the first start into <data-dir>/admin-token (0600) and keeps it', async function () {
    const first = await start({
      dev: false,
      dataDir: dir,
      adminToken: undefined,
      adminTokenFile: undefined,
    });
    const file = join(dir, ADMIN_TOKEN_FILE);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    const token = readFileSync(file, 'utf8').trim();
    expect(token).to.have.length.of.at.least(32);
    expect((await first.api('/api/zones', { token })).status).to.equal(200);
    // The store keeps only a hash.
    const record = await first.global.store.get(ADMIN_TOKEN_KEY);
    expect(record?.value.toString()).not.to.include(token);
    await first.stop();
    started.splice(0);

    const second = await start({ dev: false, dataDir: dir, adminToken: undefined });
    expect(readFileSync(file, 'utf8').trim()).to.equal(token);
    expect((await second.api('/api/zones', { token })).status).to.equal(200);
    expect((await second.api('/api/zones', { token: null })).status).to.equal(401);
  });

  it('logs a generated token once when there is no data directory to keep it in', async function () {
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lines.push(chunk.toString());
          callback();
        },
      }),
    );
    const g = await start({ dev: false, store: 'memory', adminToken: undefined }, logger);
    const line = lines.find((l) => l.includes('so one was generated'));
    const token = /generated: (\S+) —/.exec(line ?? '')?.[1];
    expect(token, line).to.be.a('string');
    expect((await g.api('/api/zones', { token })).status).to.equal(200);
  });

  it('asks for nothing with --dev', async function () {
    const g = await start({ dev: true });
    expect((await g.api('/api/zones', { token: null })).status).to.equal(200);
  });
});

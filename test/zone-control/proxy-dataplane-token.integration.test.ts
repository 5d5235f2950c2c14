/**
 * Dataplane tokens: `POST /api/dataplane-tokens` and `causeway token dataplane` issue a
 * token scoped to one service, which may open the config stream for that service and is
 * refused (403) for any other.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { runCli } from '../../cli/index.ts';
import { Captured } from '../cli/harness.ts';
import { startZone } from '../helpers/zone.ts';
import type { TestZone } from '../helpers/zone.ts';
import { StreamClient, helloFrame } from '../helpers/proxy-stream-client.ts';

const ROOT = '7b1c2b3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d';

async function post(zone: TestZone, body: unknown, token = ROOT) {
  const res = await fetch(`${zone.url}/api/dataplane-tokens`, {
    method: 'POST',
    headers: { 'X-Consul-Token': token },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Captured();
  const stderr = new Captured();
  const code = await runCli(['node', 'causeway', ...args], {
    env: {},
    stdout,
    stderr,
    stdin: Readable.from([]),
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('dataplane tokens (integration)', function () {
  let zone: TestZone;
  let dir: string;
  before(async function () {
    zone = await startZone({ dev: false, bootstrapToken: ROOT });
    dir = mkdtempSync(join(tmpdir(), 'causeway-dataplane-'));
  });
  after(async function () {
    await zone?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('issues a token that opens the stream for its service and is refused for another', async function () {
    const issued = await post(zone, { service: 'web', ttl: '1h' });
    expect(issued.status).to.equal(201);
    expect(issued.body).to.include({ service: 'web', namespace: 'default' });
    expect(issued.body.secretId).to.match(/^[0-9a-f-]{36}$/);
    const expiresIn = Date.parse(String(issued.body.expiresAt)) - Date.now();
    expect(expiresIn).to.be.within(55 * 60_000, 61 * 60_000);
    const secret = String(issued.body.secretId);

    const web = await StreamClient.connect(zone, secret);
    try {
      web.send(await helloFrame({ service: 'web', instanceId: 'web-1' }));
      expect((await web.next('leaf')).certificatePem).to.include('BEGIN CERTIFICATE');
      expect((await web.next('config')).version).to.equal(1);
    } finally {
      web.close();
    }
    const db = await StreamClient.connect(zone, secret);
    db.send(await helloFrame({ service: 'db', instanceId: 'db-1' }));
    const error = await db.next('error');
    expect(error.code).to.equal('CW_ERR_PERMISSION_DENIED');
    expect(error.message).to.match(/service:write.*"db"/);
    expect(await db.closed()).to.equal(1008);
  });

  it('needs acl:write', async function () {
    const { secretId } = (await post(zone, { service: 'web' })).body as { secretId: string };
    const denied = await post(zone, { service: 'api' }, secretId);
    expect(denied.status).to.equal(403);
    expect((denied.body.error as { code: string }).code).to.equal('CW_ERR_PERMISSION_DENIED');
  });

  const bad: [string, unknown, string][] = [
    ['a body that is not an object', '[]', 'body'],
    ['malformed JSON', '{', 'body'],
    ['a missing service', {}, 'service'],
    ['a service that is not a DNS label', { service: 'Web App' }, 'service'],
    ['a bad namespace', { service: 'web', namespace: 7 }, 'namespace'],
    // ACL tokens do not carry namespaces: a token "for staging" would be one for every namespace.
    ['a namespace other than default', { service: 'web', namespace: 'staging' }, 'namespace'],
    ['a ttl that is not a duration', { service: 'web', ttl: 'tomorrow' }, 'ttl'],
    ['a ttl over 24h', { service: 'web', ttl: '48h' }, 'ttl'],
    ['a ttl under 1m', { service: 'web', ttl: '30s' }, 'ttl'],
    ['an unknown field', { service: 'web', policy: 'write' }, 'policy'],
  ];
  for (const [what, body, field] of bad) {
    it(`answers ${what} with a 400 naming ${field}`, async function () {
      const res = await post(zone, body);
      expect(res.status).to.equal(400);
      expect(res.body.error).to.include({ code: 'CW_ERR_INVALID_ARGUMENT', field });
    });
  }

  it('`causeway token dataplane` prints the secret, or writes it 0600 with --output-file', async function () {
    const addr = `127.0.0.1:${zone.port}`;
    const printed = await cli([
      'token',
      'dataplane',
      '--service',
      'web',
      '--http-addr',
      addr,
      '--token',
      ROOT,
    ]);
    expect(printed.stderr).to.equal('');
    expect(printed.code).to.equal(0);
    const secret = printed.stdout.trim();
    expect(secret).to.match(/^[0-9a-f-]{36}$/);
    const client = await StreamClient.connect(zone, secret);
    client.send(await helloFrame({ service: 'web', instanceId: 'web-cli' }));
    expect((await client.next('leaf')).type).to.equal('leaf');
    client.close();

    const file = join(dir, 'web.token');
    const written = await cli([
      'token',
      'dataplane',
      '--service',
      'web',
      '--ttl',
      '24h',
      '--http-addr',
      addr,
      '--token',
      ROOT,
      '--output-file',
      file,
    ]);
    expect(written.code).to.equal(0);
    expect(written.stdout).to.equal('');
    expect(readFileSync(file, 'utf8')).to.match(/^[0-9a-f-]{36}\n$/);
    expect(statSync(file).mode & 0o777).to.equal(0o600);

    const refused = await cli([
      'token',
      'dataplane',
      '--service',
      'web',
      '--ttl',
      '2d',
      '--http-addr',
      addr,
      '--token',
      ROOT,
    ]);
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.match(/ttl must be a duration.*CW_ERR_INVALID_ARGUMENT/);
    const noToken = await cli(['token', 'dataplane', '--service', 'web', '--http-addr', addr]);
    expect(noToken.code).to.equal(1);
    expect(noToken.stderr).to.match(
      /Permission denied: anonymous token lacks permission 'acl:write'/,
    );
  });

  it('`--output-file` leaves an existing world-readable file at 0600 with the secret', async function () {
    const file = join(dir, 'existing.token');
    writeFileSync(file, 'old\n', { mode: 0o644 });
    expect(statSync(file).mode & 0o777).to.equal(0o644);
    const written = await cli([
      'token',
      'dataplane',
      '--service',
      'web',
      '--http-addr',
      `127.0.0.1:${zone.port}`,
      '--token',
      ROOT,
      '--output-file',
      file,
    ]);
    expect(written.code).to.equal(0);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(readFileSync(file, 'utf8')).to.match(/^[0-9a-f-]{36}\n$/);
  });
});

describe('dataplane tokens with ACLs off (integration)', function () {
  let zone: TestZone;
  before(async function () {
    zone = await startZone({});
  });
  after(async function () {
    await zone?.stop();
  });

  it('answers 401: with --dev proxies connect without a token', async function () {
    const res = await post(zone, { service: 'web' });
    expect(res.status).to.equal(401);
    expect((res.body.error as { message: string }).message).to.match(/ACL support disabled/);
  });
});

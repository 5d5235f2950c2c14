/**
 * The zone's CA over HTTP on a real zone, on both store backends: Consul's roots and agent
 * leaf endpoints, CSR signing with entitlement checks and a rate limit, revocation, and
 * the native overview.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { expect } from 'chai';
import { verifyLeafChain } from '../../core/index.ts';
import { TEST_TRUST_DOMAIN, requestLeaf, workloadId } from '../helpers/ca.ts';
import { raceTimeout, sleep } from '../helpers/async.ts';
import { startRedis } from '../helpers/redis-server.ts';
import type { RedisServer } from '../helpers/redis-server.ts';
import { forEachBackend, startZone } from '../helpers/zone.ts';
import type { TestZone } from '../helpers/zone.ts';

const TD = TEST_TRUST_DOMAIN;
const ROOT = '6b0c3a0e-54f1-4b8f-8f0e-1c9b3c7d2a10';

const workload = workloadId;

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

forEachBackend('zone CA API', (env) => {
  it('serves the roots in Consul shape, as JSON and as PEM', async function () {
    const res = await fetch(`${env.zone.url}/v1/connect/ca/roots`);
    expect(res.status).to.equal(200);
    expect(Number(res.headers.get('x-consul-index'))).to.be.greaterThan(0);
    const body = await json(res);
    expect(body.TrustDomain).to.equal(TD);
    const roots = body.Roots as Record<string, unknown>[];
    expect(roots).to.have.length(1);
    const [root] = roots as [Record<string, unknown>];
    expect(root.ID).to.equal(body.ActiveRootID);
    expect(root.Active).to.equal(true);
    expect(root.PrivateKeyType).to.equal('ec');
    expect(root.PrivateKeyBits).to.equal(256);
    expect(root.NotAfter).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const cert = new X509Certificate(root.RootCert as string);
    expect(cert.ca).to.equal(true);
    expect(cert.fingerprint.toLowerCase()).to.equal(root.ID);
    expect(root.IntermediateCerts).to.have.length(1);
    // Nothing secret in the public answer.
    expect(JSON.stringify(body)).not.to.include('PRIVATE KEY');

    const pem = await fetch(`${env.zone.url}/v1/connect/ca/roots?pem=true`);
    expect(pem.headers.get('content-type')).to.include('application/pem-certificate-chain');
    expect(await pem.text()).to.equal(root.RootCert);
  });

  it('signs a CSR into a leaf whose chain verifies against the bundle', async function () {
    const res = await requestLeaf(env.zone, workload('web'));
    expect(res.status).to.equal(200);
    const leaf = await json(res);
    expect(leaf.spiffeId).to.equal(workload('web'));
    const verified = verifyLeafChain(leaf.chainPem as string, leaf.trustBundle as string[]);
    expect(verified.spiffeId).to.equal(workload('web'));
    const cert = new X509Certificate(leaf.certificatePem as string);
    expect(cert.publicKey.asymmetricKeyType).to.equal('ec');
    const lifetime = Date.parse(leaf.notAfter as string) - Date.parse(leaf.notBefore as string);
    // 24 h, plus the minute notBefore is backdated for clock skew.
    expect(lifetime).to.equal(24 * 3_600_000 + 60_000);
  });

  it('refuses a CSR for another identity, another zone, or a bad CSR, with clear errors', async function () {
    const other = await requestLeaf(env.zone, workload('web'), {}, workload('db'));
    expect(other.status).to.equal(403);
    expect(JSON.stringify(await other.json())).to.include(workload('db'));

    const foreign = await requestLeaf(env.zone, workload('web', 'west'));
    expect(foreign.status).to.equal(403);
    expect(((await json(foreign)).error as { message: string }).message).to.include(
      `spiffe://${TD}/zone/test/`,
    );

    const garbage = await fetch(`${env.zone.url}/api/ca/leaf`, {
      method: 'POST',
      body: JSON.stringify({ spiffeId: workload('web'), csr: 'not a csr' }),
    });
    expect(garbage.status).to.equal(400);
    expect(((await json(garbage)).error as { field: string }).field).to.equal('csr');

    const missing = await fetch(`${env.zone.url}/api/ca/leaf`, { method: 'POST', body: '{}' });
    expect(missing.status).to.equal(400);
    expect(((await json(missing)).error as { field: string }).field).to.equal('spiffeId');

    const notObject = await fetch(`${env.zone.url}/api/ca/leaf`, { method: 'POST', body: '[1]' });
    expect(notObject.status).to.equal(400);
  });

  it('hands out a Consul agent leaf with its key, the same one until renewal', async function () {
    const res = await fetch(`${env.zone.url}/v1/agent/connect/ca/leaf/web`);
    expect(res.status).to.equal(200);
    const body = await json(res);
    expect(body.Service).to.equal('web');
    expect(body.ServiceURI).to.equal(workload('web'));
    expect(body.SerialNumber).to.match(/^[0-9a-f]{2}(:[0-9a-f]{2})+$/);
    const cert = new X509Certificate(body.CertPEM as string);
    expect(cert.checkPrivateKey(createPrivateKey(body.PrivateKeyPEM as string))).to.equal(true);
    expect(Date.parse(body.ValidBefore as string)).to.be.greaterThan(Date.now());
    const again = await json(await fetch(`${env.zone.url}/v1/agent/connect/ca/leaf/web`));
    expect(again.SerialNumber).to.equal(body.SerialNumber);
    expect(again.ModifyIndex).to.equal(body.ModifyIndex);
  });

  it('replaces a revoked agent leaf, and wakes a blocked agent-leaf read on the revocation', async function () {
    const first = await fetch(`${env.zone.url}/v1/agent/connect/ca/leaf/api`);
    const leaf = await json(first);
    const index = first.headers.get('x-consul-index');
    const blocked = fetch(`${env.zone.url}/v1/agent/connect/ca/leaf/api?index=${index}&wait=20s`);
    await sleep(100);
    const revoked = await fetch(`${env.zone.url}/api/ca/revocations`, {
      method: 'POST',
      body: JSON.stringify({ serial: (leaf.SerialNumber as string).replace(/:/g, '') }),
    });
    expect(revoked.status).to.equal(201);
    const woken = await raceTimeout(blocked, 10_000);
    expect(woken.timedOut, 'the blocked read should wake on the revocation').to.equal(false);
    const replaced = await json((woken as { value: Response }).value);
    expect(replaced.SerialNumber).not.to.equal(leaf.SerialNumber);
    expect(
      (await json(await fetch(`${env.zone.url}/v1/agent/connect/ca/leaf/api`))).SerialNumber,
    ).to.equal(replaced.SerialNumber);
  });

  it('revokes a leaf it issued, lists it in the bundle, and 404s an unknown serial', async function () {
    const leaf = await json(await requestLeaf(env.zone, workload('web')));
    const revoked = await fetch(`${env.zone.url}/api/ca/revocations`, {
      method: 'POST',
      body: JSON.stringify({ serial: leaf.serial, reason: 'key compromise' }),
    });
    expect(revoked.status).to.equal(201);
    expect((await json(revoked)).spiffeId).to.equal(workload('web'));
    const bundle = await json(await fetch(`${env.zone.url}/api/ca/bundle`));
    expect(bundle.revokedSerials).to.include(leaf.serial);
    const list = await json(await fetch(`${env.zone.url}/api/ca/revocations`));
    expect((list.revocations as { serial: string }[]).map((r) => r.serial)).to.include(leaf.serial);

    const unknown = await fetch(`${env.zone.url}/api/ca/revocations`, {
      method: 'POST',
      body: JSON.stringify({ serial: 'abcdef' }),
    });
    expect(unknown.status).to.equal(404);
    const bad = await fetch(`${env.zone.url}/api/ca/revocations`, {
      method: 'POST',
      body: JSON.stringify({ serial: 'zz' }),
    });
    expect(bad.status).to.equal(400);
  });

  it('shows roots, intermediates, issue counts and no rotation in GET /api/ca', async function () {
    const body = await json(await fetch(`${env.zone.url}/api/ca`));
    expect(body.trustDomain).to.equal(TD);
    expect(body.rotation).to.equal(null);
    expect(body.roots).to.have.length(1);
    expect(body.intermediates).to.have.length(1);
    const issued = body.issued as { active: number; sinceStart: number };
    expect(issued.active).to.be.at.least(2);
    expect(issued.sinceStart).to.be.at.least(2);
    expect(JSON.stringify(body)).not.to.include('PRIVATE KEY');
  });
});

describe('zone CA entitlement and rate limit (integration)', function () {
  let zone: TestZone;
  before(async function () {
    zone = await startZone({ dev: false, bootstrapToken: ROOT, caSignRate: 3 });
  });
  after(async function () {
    await zone?.stop();
  });

  async function tokenWith(rules: string): Promise<string> {
    const policy = await json(
      await fetch(`${zone.url}/v1/acl/policy`, {
        method: 'PUT',
        headers: { 'X-Consul-Token': ROOT },
        body: JSON.stringify({ Name: `p-${Math.random().toString(36).slice(2)}`, Rules: rules }),
      }),
    );
    const token = await json(
      await fetch(`${zone.url}/v1/acl/token`, {
        method: 'PUT',
        headers: { 'X-Consul-Token': ROOT },
        body: JSON.stringify({ Policies: [{ ID: policy.ID }] }),
      }),
    );
    return token.SecretID as string;
  }

  it('signs only identities the token has service:write on, then rate-limits', async function () {
    const web = await tokenWith('service "web" { policy = "write" }');
    const ok = await requestLeaf(zone, workload('web'), { 'X-Consul-Token': web });
    expect(ok.status).to.equal(200);
    const denied = await requestLeaf(zone, workload('db'), { 'X-Consul-Token': web });
    expect(denied.status).to.equal(403);
    expect(((await json(denied)).error as { message: string }).message).to.include(
      'service:write\' on "db"',
    );
    const anonymous = await requestLeaf(zone, workload('web'));
    expect(anonymous.status).to.equal(403);
    const agentLeaf = await fetch(`${zone.url}/v1/agent/connect/ca/leaf/db`, {
      headers: { 'X-Consul-Token': web },
    });
    expect(agentLeaf.status).to.equal(403);
    expect(await agentLeaf.text()).to.match(/Permission denied/);

    // A burst of 3 per second: one was used above; the rest of a quick burst runs out.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await requestLeaf(zone, workload('web'), { 'X-Consul-Token': web });
      statuses.push(res.status);
      if (res.status === 429) {
        expect(Number(res.headers.get('retry-after'))).to.be.at.least(1);
        expect(((await json(res)).error as { code: string }).code).to.equal('CW_ERR_RATE_LIMITED');
      }
    }
    expect(statuses).to.include(429);
  });

  it('needs operator:read for the overview and operator:write to rotate or revoke', async function () {
    const web = await tokenWith('service "web" { policy = "write" }');
    for (const [method, path] of [
      ['GET', '/api/ca'],
      ['POST', '/api/ca/rotation'],
      ['POST', '/api/ca/revocations'],
    ] as const) {
      const res = await fetch(`${zone.url}${path}`, {
        method,
        headers: { 'X-Consul-Token': web },
        body: method === 'POST' ? '{"serial":"01"}' : undefined,
      });
      expect(res.status, `${method} ${path}`).to.equal(403);
    }
    // The roots and the bundle are public, as Consul's roots are.
    expect((await fetch(`${zone.url}/v1/connect/ca/roots`)).status).to.equal(200);
    expect((await fetch(`${zone.url}/api/ca/bundle`)).status).to.equal(200);
  });
});

describe('zone CA with two replicas on one Redis (integration)', function () {
  let redis: RedisServer;
  let a: TestZone;
  let b: TestZone;
  before(async function () {
    redis = await startRedis();
    a = await startZone({ store: redis.url });
    b = await startZone({ store: redis.url });
  });
  after(async function () {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  it('shares one root, and a blocked roots read on one replica answers with a rotation made on the other', async function () {
    const before = await fetch(`${b.url}/v1/connect/ca/roots`);
    const body = await json(before);
    expect(body.ActiveRootID).to.equal(
      (await json(await fetch(`${a.url}/v1/connect/ca/roots`))).ActiveRootID,
    );
    // A participant that has not acknowledged holds phase 2, so the bundle keeps two roots.
    await fetch(`${a.url}/api/ca/ack`, {
      method: 'PUT',
      body: JSON.stringify({ participant: workload('web'), bundleVersion: 1 }),
    });
    const index = before.headers.get('x-consul-index');
    const blocked = fetch(`${b.url}/v1/connect/ca/roots?index=${index}&wait=20s`);
    await sleep(100);
    expect((await fetch(`${a.url}/api/ca/rotation`, { method: 'POST' })).status).to.equal(201);
    const answer = await raceTimeout(blocked, 10_000);
    expect(answer.timedOut).to.equal(false);
    const roots = await json((answer as { value: Response }).value);
    expect(roots.Roots).to.have.length(2);
  });
});

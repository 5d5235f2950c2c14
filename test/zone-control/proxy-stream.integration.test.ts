/**
 * The proxy config stream on a real zone: TLS with the zone's own identity, token checks
 * at the upgrade, hello → leaf + bundle, ACK/NACK bookkeeping, bundle pushes during a root
 * rotation (whose phase 2 waits for this proxy's ACK), and refusals of bad frames.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { normalizeSerial, verifyLeafChain } from '../../core/index.ts';
import { MAX_FRAME_BYTES } from '../../core/src/proxy-stream/messages.ts';
import { eventually } from '../helpers/async.ts';
import { workloadId } from '../helpers/ca.ts';
import { StreamClient, helloFrame } from '../helpers/proxy-stream-client.ts';
import { startZone } from '../helpers/zone.ts';
import type { TestZone } from '../helpers/zone.ts';

const ROOT = '9d1c2b3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d';

function hello(service: string, instanceId: string): Promise<Record<string, unknown>> {
  return helloFrame({
    service,
    instanceId,
    port: 8080,
    upstreams: [{ service: 'backend', localPort: 9001 }],
  });
}

describe('proxy config stream (integration)', function () {
  this.timeout(30_000);
  let zone: TestZone;
  before(async function () {
    zone = await startZone({});
  });
  after(async function () {
    await zone?.stop();
  });

  it('answers a hello with a leaf and the bundle, and records ACKs and NACKs', async function () {
    const client = await StreamClient.connect(zone);
    try {
      client.send(await hello('web', 'web-1'));
      const leaf = await client.next('leaf');
      const bundle = await client.next('bundle');
      expect(verifyLeafChain(leaf.chainPem, bundle.roots).spiffeId).to.equal(workloadId('web'));
      client.send({ type: 'ack', kind: 'bundle', version: bundle.version, nonce: bundle.nonce });
      client.send({
        type: 'nack',
        kind: 'leaf',
        version: leaf.version,
        nonce: leaf.nonce,
        reason: 'disk full',
      });
      // An ACK for a nonce the zone never sent changes nothing.
      client.send({ type: 'ack', kind: 'leaf', version: leaf.version, nonce: 'stale' });
      const status = await eventually(async () => {
        const body = (await (await fetch(`${zone.url}/api/proxies`)).json()) as {
          proxies: {
            instanceId: string;
            acked: Record<string, number>;
            lastNack?: { reason: string };
          }[];
        };
        const p = body.proxies.find((x) => x.instanceId === 'web-1');
        return p?.lastNack && p.acked.bundle ? p : undefined;
      }, 'the ACK and NACK in /api/proxies');
      expect(status.acked).to.deep.equal({ bundle: bundle.version });
      expect(status.lastNack?.reason).to.equal('disk full');
      const ca = (await (await fetch(`${zone.url}/api/ca`)).json()) as {
        participants: { acked: string[] };
      };
      expect(ca.participants.acked).to.include(`${workloadId('web')} (web-1)`);
    } finally {
      client.close();
    }
  });

  it('pushes the new bundle during a root rotation, which waits for this proxy', async function () {
    const client = await StreamClient.connect(zone);
    try {
      client.send(await hello('api', 'api-1'));
      const first = await client.next('bundle');
      client.send({ type: 'ack', kind: 'bundle', version: first.version, nonce: first.nonce });
      // web-1 from the first test is gone; let it not hold the rotation.
      await fetch(`${zone.url}/api/ca/ack`, {
        method: 'PUT',
        body: JSON.stringify({
          participant: workloadId('web'),
          instance: 'web-1',
          bundleVersion: first.version + 1,
        }),
      }).then((r) => expect(r.status).to.equal(409)); // that version does not exist yet
      const seen = client.frames.length;
      expect((await fetch(`${zone.url}/api/ca/rotation`, { method: 'POST' })).status).to.equal(201);
      const pushed = await client.next('bundle', seen);
      expect(pushed.version).to.equal(first.version + 1);
      expect(pushed.roots).to.have.length(2);
      await fetch(`${zone.url}/api/ca/ack`, {
        method: 'PUT',
        body: JSON.stringify({
          participant: workloadId('web'),
          instance: 'web-1',
          bundleVersion: pushed.version,
        }),
      });
      const phase = async () =>
        ((await (await fetch(`${zone.url}/api/ca`)).json()) as { rotation: { phase: unknown } })
          .rotation.phase;
      // Until api-1 acknowledges, phase 2 holds.
      await new Promise((r) => setTimeout(r, 1200));
      expect(await phase()).to.equal(2);
      client.send({ type: 'ack', kind: 'bundle', version: pushed.version, nonce: pushed.nonce });
      await eventually(async () => (await phase()) === 4, 'signing to switch after the ACK');
    } finally {
      client.close();
    }
  });

  it('pushes the revocation list when a leaf is revoked', async function () {
    const client = await StreamClient.connect(zone);
    try {
      client.send(await hello('web', 'web-3'));
      const leaf = await client.next('leaf');
      const first = await client.next('bundle');
      const serial = normalizeSerial(new X509Certificate(leaf.certificatePem).serialNumber);
      expect(first.revokedSerials).not.to.include(serial);
      const seen = client.frames.length;
      const revoked = await fetch(`${zone.url}/api/ca/revocations`, {
        method: 'POST',
        body: JSON.stringify({ serial, reason: 'test' }),
      });
      expect(revoked.status).to.equal(201);
      const pushed = await client.next('bundle', seen);
      expect(pushed.revokedSerials).to.include(serial);
      // Same roots, same version; a new nonce so the ACK names this push.
      expect(pushed.version).to.equal(first.version);
      expect(pushed.nonce).not.to.equal(first.nonce);
    } finally {
      client.close();
    }
  });

  it('closes a stream that sends a frame over the size limit, and keeps serving', async function () {
    const client = await StreamClient.connect(zone);
    client.send('x'.repeat(MAX_FRAME_BYTES + 1));
    await eventually(() => client.closeCode, 'the stream to close');
    // 1009: message too big (RFC 6455 §7.4.1).
    expect(client.closeCode).to.equal(1009);
    const next = await StreamClient.connect(zone);
    next.send(await hello('web', 'web-2'));
    expect((await next.next('leaf')).type).to.equal('leaf');
    next.close();
  });

  it('refuses bad frames with an error frame naming the field, then closes', async function () {
    for (const [frame, field] of [
      ['not json', 'frame'],
      [{ type: 'ack', kind: 'bundle', version: 1, nonce: 'n' }, 'type'],
      [{ ...(await hello('web', 'web-9')), port: 0 }, 'port'],
    ] as const) {
      const client = await StreamClient.connect(zone);
      client.send(frame);
      const error = await client.next('error');
      expect(error.field).to.equal(field);
      await eventually(() => client.closeCode, 'the stream to close');
      expect(client.closeCode).to.equal(1008);
    }
  });
});

describe('proxy config stream with ACLs (integration)', function () {
  let zone: TestZone;
  before(async function () {
    zone = await startZone({ dev: false, bootstrapToken: ROOT });
  });
  after(async function () {
    await zone?.stop();
  });

  it('refuses a client without a valid token at the upgrade, and a hello for a service the token may not write', async function () {
    const { port } = zone.zone.proxyStream.address();
    for (const headers of [{}, { Authorization: 'Bearer 00000000-0000-0000-0000-000000000000' }]) {
      const ws = new WebSocket(`wss://127.0.0.1:${port}/`, { rejectUnauthorized: false, headers });
      ws.on('error', () => undefined);
      const [, res] = (await once(ws, 'unexpected-response')) as [
        unknown,
        { statusCode: number; resume(): void },
      ];
      expect(res.statusCode).to.equal(401);
      res.resume();
    }
    const policy = (await (
      await fetch(`${zone.url}/v1/acl/policy`, {
        method: 'PUT',
        headers: { 'X-Consul-Token': ROOT },
        body: JSON.stringify({ Name: 'web-only', Rules: 'service "web" { policy = "write" }' }),
      })
    ).json()) as { ID: string };
    const token = (await (
      await fetch(`${zone.url}/v1/acl/token`, {
        method: 'PUT',
        headers: { 'X-Consul-Token': ROOT },
        body: JSON.stringify({ Policies: [{ ID: policy.ID }] }),
      })
    ).json()) as { SecretID: string };
    const denied = await StreamClient.connect(zone, token.SecretID);
    denied.send(await hello('db', 'db-1'));
    expect((await denied.next('error')).code).to.equal('CW_ERR_PERMISSION_DENIED');
    const allowed = await StreamClient.connect(zone, token.SecretID);
    try {
      allowed.send(await hello('web', 'web-1'));
      expect((await allowed.next('leaf')).certificatePem).to.include('BEGIN CERTIFICATE');
    } finally {
      allowed.close();
    }
  });
});

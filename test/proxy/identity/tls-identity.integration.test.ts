import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { expect } from 'chai';
import { TlsIdentity } from '../../../proxy/src/identity/tls-identity.ts';
import { setDefaultSecureContext } from '../../../proxy/src/inbound/default-context.ts';
import type { PeerIdentity } from '../../../proxy/src/mesh-tls.ts';
import { TestCa, serialOf } from '../../helpers/test-ca.ts';
import type { Workload } from '../../helpers/test-ca.ts';

interface Pair {
  client: tls.TLSSocket;
  server: tls.TLSSocket;
}

/** One mutual TLS connection between two identities over 127.0.0.1 (resuming `session`). */
async function connectPair(
  serverId: TlsIdentity,
  clientId: TlsIdentity,
  session?: Buffer,
): Promise<Pair> {
  const server = tls.createServer({
    // A server takes its context per connection through SNI (the mesh always sends one).
    SNICallback: (_name, cb) => cb(null, serverId.secureContext()),
    requestCert: true,
    rejectUnauthorized: true,
  });
  // As Inbound does; a ticket offered in the hello is opened with this context's keys,
  // before SNI picks the context for the rest of the handshake.
  setDefaultSecureContext(server, serverId.secureContext());
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'secureConnection') as Promise<[tls.TLSSocket]>;
  const client = tls.connect({
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    secureContext: clientId.secureContext(),
    servername: 'peer.default.test.causeway.mesh',
    checkServerIdentity: () => undefined,
    session,
  });
  sockets.push(client);
  await once(client, 'secureConnect');
  const [socket] = await accepted;
  sockets.push(socket);
  return { client, server: socket };
}

const servers: tls.Server[] = [];

/** The refusal message of a verdict, or "accepted". */
function why(verdict: PeerIdentity | Error): string {
  return verdict instanceof Error ? verdict.message : 'accepted';
}
const sockets: tls.TLSSocket[] = [];

describe('TlsIdentity', function () {
  let ca: TestCa;

  before(async function () {
    ca = await TestCa.create();
  });

  afterEach(async function () {
    for (const s of sockets.splice(0)) s.destroy();
    await Promise.all(
      servers.splice(0).map((s) => new Promise((resolve) => s.close(() => resolve(undefined)))),
    );
  });

  const id = (w: Workload) => ca.tlsIdentity(w);

  it('is not ready and has no context before the first update', function () {
    const identity = new TlsIdentity({ trustDomain: 'causeway.mesh' });
    expect(identity.ready()).to.equal(false);
    expect(() => identity.secureContext()).to.throw(/no certificate/);
  });

  it('accepts a peer of the trust domain on both sides and names its identity', async function () {
    const backend = await id({ service: 'backend' });
    const web = await id({ service: 'web', namespace: 'shop' });
    const { client, server } = await connectPair(backend, web);
    expect(web.checkPeer(client, { service: 'backend', namespace: 'default' })).to.deep.equal({
      spiffeId: 'spiffe://causeway.mesh/zone/test/ns/default/svc/backend',
      service: 'backend',
      namespace: 'default',
      zone: 'test',
    } satisfies PeerIdentity);
    const peer = backend.checkPeer(server) as PeerIdentity;
    expect(peer.service).to.equal('web');
    expect(peer.namespace).to.equal('shop');
  });

  it('refuses a peer that is not the expected service or namespace', async function () {
    const backend = await id({ service: 'backend' });
    const web = await id({ service: 'web' });
    const { client } = await connectPair(backend, web);
    const wrongService = web.checkPeer(client, { service: 'payments', namespace: 'default' });
    expect(wrongService).to.be.instanceOf(Error);
    expect(why(wrongService)).to.match(/is not default\/payments/);
    const wrongNs = web.checkPeer(client, { service: 'backend', namespace: 'other' });
    expect(why(wrongNs)).to.match(/is not other\/backend/);
  });

  it('refuses a peer from another trust domain even when its root is trusted', async function () {
    const other = await TestCa.create('other.mesh');
    const stranger = new TlsIdentity({ trustDomain: 'other.mesh' });
    stranger.update(await other.identity({ service: 'backend' }, [ca.rootPem]));
    const web = await ca.tlsIdentity({ service: 'web' }, [other.rootPem]);
    const { client } = await connectPair(stranger, web);
    const verdict = web.checkPeer(client);
    expect(verdict).to.be.instanceOf(Error);
    expect(why(verdict)).to.match(/outside the trust domain causeway\.mesh/);
  });

  it('refuses a revoked peer once the revocation arrives, and the cached verdict follows it', async function () {
    const backendMaterial = await ca.identity({ service: 'backend' });
    const backend = new TlsIdentity({ trustDomain: ca.trustDomain });
    backend.update(backendMaterial);
    const webMaterial = await ca.identity({ service: 'web' });
    const web = new TlsIdentity({ trustDomain: ca.trustDomain });
    web.update(webMaterial);
    const { client } = await connectPair(backend, web);
    expect(web.checkPeer(client)).not.to.be.instanceOf(Error);
    let changes = 0;
    web.onChange(() => changes++);
    web.update({ ...webMaterial, revokedSerials: [serialOf(backendMaterial.certificatePem)] });
    expect(changes).to.equal(1);
    const verdict = web.checkPeer(client);
    expect(why(verdict)).to.match(/is revoked/);
  });

  it('refuses a leaf outside the zone of the intermediate that signed it', async function () {
    const forged = new TlsIdentity({ trustDomain: ca.trustDomain });
    forged.update(await ca.misissuedIdentity({ service: 'backend', zone: 'west' }, 'east'));
    const web = await id({ service: 'web' });
    const { client, server } = await connectPair(forged, web);
    expect(why(web.checkPeer(client))).to.match(/outside its issuer's scope.*OU=zone\/east/);
    // The same check on the server side: a client with the forged leaf is refused too.
    expect(why(forged.checkPeer(server))).to.equal('accepted');
    const pair = await connectPair(web, forged);
    expect(why(web.checkPeer(pair.server))).to.match(/outside its issuer's scope/);
  });

  it('judges a peer it never saw on a resumed session (shared ticket keys) by its leaf alone', async function () {
    // Two workers: the same material and ticket keys, each its own verdict cache.
    const material = await ca.identity({ service: 'backend' });
    const keys = randomBytes(48);
    const [issuing, resuming] = [0, 1].map(() => {
      const identity = new TlsIdentity({ trustDomain: ca.trustDomain });
      identity.update(material, keys);
      return identity;
    }) as [TlsIdentity, TlsIdentity];
    const resumeOn = async (client: TlsIdentity): Promise<tls.TLSSocket> => {
      const first = await connectPair(issuing, client);
      const [ticket] = (await once(first.client, 'session')) as [Buffer];
      const { server } = await connectPair(resuming, client, ticket);
      expect(server.isSessionReused()).to.equal(true);
      return server;
    };
    const web = await id({ service: 'web' });
    expect(resuming.checkPeer(await resumeOn(web))).to.deep.include({
      service: 'web',
      zone: 'test',
    });
    // The issuer's zone is still checked: a leaf the east CA minted for the west zone.
    const forged = new TlsIdentity({ trustDomain: ca.trustDomain });
    forged.update(await ca.misissuedIdentity({ service: 'web', zone: 'west' }, 'east'));
    expect(why(resuming.checkPeer(await resumeOn(forged)))).to.match(
      /outside its issuer's scope.*OU=zone\/east/,
    );
  });

  it('keeps serving the old context when an update is bad, and notifies only on success', async function () {
    const material = await ca.identity({ service: 'web' });
    const identity = new TlsIdentity({ trustDomain: ca.trustDomain });
    identity.update(material);
    const before = identity.secureContext();
    let changes = 0;
    identity.onChange(() => changes++);
    const other = await ca.identity({ service: 'web' });
    expect(() => identity.update({ ...material, keyPem: other.keyPem })).to.throw();
    expect(identity.secureContext()).to.equal(before);
    expect(changes).to.equal(0);
    identity.update(other);
    expect(identity.secureContext()).not.to.equal(before);
    expect(changes).to.equal(1);
    expect(identity.material()).not.to.have.property('keyPem');
  });
});

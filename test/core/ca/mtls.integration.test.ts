import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { expect } from 'chai';
import {
  peerSpiffeId,
  privateKeyToPem,
  spiffeServerIdentityCheck,
} from '../../../core/src/ca/index.ts';
import type { IssuerCa, KeyPair } from '../../../core/src/ca/index.ts';
import type { Keys } from './fixtures.ts';
import { makeIntermediate, makeLeaf, makeRoot, testKeys, workloadId } from './fixtures.ts';

describe('ca mutual TLS (integration: real node:tls server)', function () {
  let keys: Keys;
  let root: IssuerCa;
  let server: tls.Server;
  let port: number;
  const serverId = workloadId('east', 'api');
  const clientId = workloadId('west', 'web');
  const seenByServer: (string | undefined)[] = [];
  /** NIST curve of each client certificate key the server accepted (undefined for RSA). */
  const curvesSeenByServer: (string | undefined)[] = [];

  before(async function () {
    keys = await testKeys();
    root = makeRoot(keys.root);
    const east = makeIntermediate(root, 'east', keys.east);
    server = tls.createServer(
      {
        key: privateKeyToPem(keys.leafA.privateKey),
        cert: makeLeaf(east, serverId, keys.leafA) + east.certificatePem,
        ca: [root.certificatePem],
        requestCert: true,
        rejectUnauthorized: true,
      },
      (socket) => {
        const peer = socket.getPeerCertificate();
        seenByServer.push(peer.subjectaltname);
        curvesSeenByServer.push(peer.nistCurve);
        socket.end('hello');
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  after(function () {
    server.close();
  });

  function connect(
    options: tls.ConnectionOptions,
  ): Promise<{ peer: string | undefined; peerCurve?: string; data: string }> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        ca: [root.certificatePem],
        ...options,
      });
      let data = '';
      let peer: string | undefined;
      let peerCurve: string | undefined;
      socket.setEncoding('utf8');
      socket.on('secureConnect', () => {
        ({ subjectaltname: peer, nistCurve: peerCurve } = socket.getPeerCertificate());
      });
      socket.on('data', (chunk: string) => (data += chunk));
      // Under TLS 1.3 a refused client still sees secureConnect: only data counts.
      socket.on('end', () => resolve({ peer, peerCurve, data }));
      socket.on('error', reject);
    });
  }

  function westClient(leafKey: KeyPair = keys.leafB): tls.ConnectionOptions {
    const west = makeIntermediate(root, 'west', keys.west);
    return {
      key: privateKeyToPem(leafKey.privateKey),
      cert: makeLeaf(west, clientId, leafKey) + west.certificatePem,
    };
  }

  it('connects EC P-256 leaves from zones east and west; each side sees the other SPIFFE ID', async function () {
    const result = await connect({
      ...westClient(),
      checkServerIdentity: spiffeServerIdentityCheck(serverId),
    });
    expect(result).to.deep.equal({ peer: `URI:${serverId}`, peerCurve: 'P-256', data: 'hello' });
    expect(seenByServer.at(-1)).to.equal(`URI:${clientId}`);
    expect(curvesSeenByServer.at(-1)).to.equal('P-256');
    expect(peerSpiffeId({ subjectaltname: result.peer ?? '' })).to.equal(serverId);
  });

  it('connects an RSA client leaf under an EC intermediate to an EC server', async function () {
    const result = await connect({
      ...westClient(keys.rsaLeaf),
      checkServerIdentity: spiffeServerIdentityCheck(serverId),
    });
    expect(result).to.deep.equal({ peer: `URI:${serverId}`, peerCurve: 'P-256', data: 'hello' });
    expect(seenByServer.at(-1)).to.equal(`URI:${clientId}`);
    expect(curvesSeenByServer.at(-1)).to.equal(undefined); // an RSA key has no curve
  });

  it('refuses a server whose SPIFFE ID is not the expected one', async function () {
    const err = await connect({
      ...westClient(),
      checkServerIdentity: spiffeServerIdentityCheck(workloadId('east', 'db')),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(Error).with.property('message').that.includes('svc/api is not');
  });

  it('refuses a client from another root before the handler runs', async function () {
    const other = makeRoot(keys.otherRoot);
    const otherWest = makeIntermediate(other, 'west', keys.west);
    const before = seenByServer.length;
    const outcome = await connect({
      key: privateKeyToPem(keys.leafB.privateKey),
      cert: makeLeaf(otherWest, clientId, keys.leafB) + otherWest.certificatePem,
      checkServerIdentity: spiffeServerIdentityCheck(serverId),
    }).then(
      (r) => r.data,
      (e: unknown) => e,
    );
    expect(outcome).to.not.equal('hello');
    expect(seenByServer.length).to.equal(before);
  });
});

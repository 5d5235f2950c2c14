/**
 * The global's identity over real TLS: a zone dialling the global accepts the root-signed
 * `spiffe://<td>/global` leaf, and refuses one a (compromised) zone intermediate minted,
 * which Node's own TLS checks and a plain SPIFFE ID check both let through.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { expect } from 'chai';
import {
  globalServerIdentityCheck,
  globalSpiffeId,
  privateKeyToPem,
  signGlobalCertificate,
  spiffeServerIdentityCheck,
} from '../../../core/src/ca/index.ts';
import type { IssuerCa } from '../../../core/src/ca/index.ts';
import type { Keys } from './fixtures.ts';
import { TD, makeIntermediate, makeRoot, rogueLeaf, testKeys } from './fixtures.ts';

describe('ca/global-identity over TLS (integration)', function () {
  let keys: Keys;
  let root: IssuerCa;
  const servers: tls.Server[] = [];

  before(async function () {
    keys = await testKeys();
    root = makeRoot(keys.root);
  });
  after(function () {
    for (const s of servers) s.close();
  });

  async function serve(cert: string, key: string): Promise<number> {
    const server = tls.createServer({ key, cert }, (socket) => socket.end('hello'));
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  }

  function dial(
    port: number,
    check: (host: string, cert: tls.PeerCertificate) => Error | undefined,
  ): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        ca: [root.certificatePem],
        checkServerIdentity: check,
      });
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (data += chunk));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
  }

  it('accepts the root-signed global leaf', async function () {
    const cert = signGlobalCertificate({ root, trustDomain: TD, publicKey: keys.leafA.publicKey });
    const port = await serve(cert, privateKeyToPem(keys.leafA.privateKey));
    expect(await dial(port, globalServerIdentityCheck(TD, root.certificatePem))).to.equal('hello');
  });

  it('refuses a global identity minted by a zone intermediate', async function () {
    const east = makeIntermediate(root, 'east', keys.east);
    const forged = rogueLeaf(east, globalSpiffeId(TD), keys.leafB);
    const port = await serve(forged + east.certificatePem, privateKeyToPem(keys.leafB.privateKey));
    // What a SPIFFE-ID-only check would let through:
    expect(await dial(port, spiffeServerIdentityCheck(globalSpiffeId(TD)))).to.equal('hello');
    let refused: unknown;
    try {
      await dial(port, globalServerIdentityCheck(TD, root.certificatePem));
    } catch (err) {
      refused = err;
    }
    expect(String(refused)).to.include('not signed directly by a root');
  });

  it('refuses the global leaf of another trust domain', async function () {
    const cert = signGlobalCertificate({ root, trustDomain: TD, publicKey: keys.leafA.publicKey });
    const port = await serve(cert, privateKeyToPem(keys.leafA.privateKey));
    let refused: unknown;
    try {
      await dial(port, globalServerIdentityCheck('other.test', root.certificatePem));
    } catch (err) {
      refused = err;
    }
    expect(String(refused)).to.include('not other.test');
  });
});

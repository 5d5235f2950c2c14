/**
 * Full mutual-TLS handshakes against a local `tls` server, one at a time, for comparing
 * key types. Server and client share this process and its event loop, so a handshake's
 * time is both sides' work on one core: each side signs once (CertificateVerify) and
 * verifies the peer's signature and chain. Nothing is resumed: the client never offers
 * a session, and every handshake is checked to be a fresh one.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { peerSpiffeId, spiffeServerIdentityCheck } from '../../core/index.ts';
import { runForAsync } from './timed.ts';
import type { Rate } from './timed.ts';

export interface MtlsIdentity {
  /** PKCS#8 PEM. */
  keyPem: string;
  /** Leaf then intermediate, PEM. */
  certChainPem: string;
  spiffeId: string;
}

export interface MtlsPair {
  server: MtlsIdentity;
  client: MtlsIdentity;
  /** The trust bundle both sides verify against (root certificates). */
  bundlePem: string[];
}

export interface HandshakeResult extends Rate {
  /** Negotiated protocol and cipher, e.g. `TLSv1.3 TLS_AES_256_GCM_SHA384`. */
  negotiated: string;
}

/**
 * Run handshakes at `version` for `durationMs` (after `warmupMs`): a listening server on
 * 127.0.0.1 with `requestCert` and `rejectUnauthorized`, a client that checks the server's
 * SPIFFE ID, and the server checking the client's. The server answers one byte once it
 * has accepted the client; the handshake counts when the client reads it.
 */
export async function measureHandshakes(
  pair: MtlsPair,
  version: tls.SecureVersion,
  durationMs: number,
  warmupMs = 300,
): Promise<HandshakeResult> {
  const open = new Set<tls.TLSSocket>();
  let accepted = 0;
  const wrongPeers: (string | undefined)[] = [];
  const server = tls.createServer(
    {
      key: pair.server.keyPem,
      cert: pair.server.certChainPem,
      ca: pair.bundlePem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: version,
      maxVersion: version,
    },
    (socket) => {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => undefined); // the client may reset after reading its byte
      const peer = peerSpiffeId(socket.getPeerCertificate());
      if (peer === pair.client.spiffeId) accepted++;
      else wrongPeers.push(peer);
      socket.end('k');
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  // One context for every connection, as a proxy would hold it: the per-connection cost
  // is then the handshake, not parsing PEM.
  const secureContext = tls.createSecureContext({
    key: pair.client.keyPem,
    cert: pair.client.certChainPem,
    ca: pair.bundlePem,
    minVersion: version,
    maxVersion: version,
  });
  const checkServerIdentity = spiffeServerIdentityCheck(pair.server.spiffeId);
  let negotiated = '';
  let completed = 0;

  const handshake = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, secureContext, checkServerIdentity });
      socket.on('error', reject);
      // Under TLS 1.3 a refused client still sees secureConnect; only the byte counts.
      socket.on('end', () => reject(new Error('the server closed before accepting the client')));
      socket.once('data', () => {
        if (socket.isSessionReused()) {
          reject(new Error('a handshake resumed a session; the benchmark wants full ones'));
          return;
        }
        negotiated ||= `${socket.getProtocol() ?? '?'} ${socket.getCipher().standardName}`;
        completed++;
        socket.end();
        resolve();
      });
    });

  try {
    const rate = await runForAsync(handshake, durationMs, warmupMs);
    if (wrongPeers.length > 0 || accepted < completed) {
      throw new Error(
        `the server accepted ${accepted} of ${completed} clients; wrong peer IDs: ${wrongPeers.slice(0, 3).join(', ')}`,
      );
    }
    return { ...rate, negotiated };
  } finally {
    for (const socket of open) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

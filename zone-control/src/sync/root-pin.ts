/**
 * A zone's first connection to global has no trust anchor yet, only the root's pin from
 * its zone token (SHA-256 of the root's DER, like kubeadm's discovery CA hash). This
 * fetches the certificates the global's sync port presents, without trusting them, and
 * keeps the one whose pin matches: from then on the zone verifies global with that root
 * like with any other, and the token is only sent over a connection verified with it.
 */
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { DetailedPeerCertificate } from 'node:tls';
import { PermissionDeniedError, TimeoutError, certificatePin } from '../../../core/index.ts';

export async function fetchPinnedRoot(
  host: string,
  port: number,
  pin: string,
  timeoutMs = 10_000,
): Promise<string> {
  const presented = await new Promise<string[]>((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      // Nothing is sent on this connection: it only reads the server's chain.
      rejectUnauthorized: false,
      servername: 'global',
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TimeoutError(`no TLS handshake with ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const pems: string[] = [];
      const seen = new Set<string>();
      let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      while (cert?.raw && !seen.has(cert.fingerprint256)) {
        seen.add(cert.fingerprint256);
        pems.push(new X509Certificate(cert.raw).toString());
        cert = cert.issuerCertificate;
      }
      socket.destroy();
      resolve(pems);
    });
    socket.once('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  for (const pem of presented) {
    const cert = new X509Certificate(pem);
    if (cert.ca && cert.issuer === cert.subject && certificatePin(pem) === pin) return pem;
  }
  throw new PermissionDeniedError(
    `the global control plane at ${host}:${port} presented no root with the zone token's pin ${pin.slice(0, 16)}…: wrong address, or a token from another global`,
  );
}

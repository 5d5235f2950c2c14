/**
 * A check that a proxy's inbound listener really requires a client certificate: a TLS
 * client that trusts the mesh roots but presents no certificate must not get an HTTP
 * response. Under TLS 1.3 such a client still sees `secureConnect` and only then the
 * server's alert, so the check waits for the response or the close, not the handshake.
 */
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';

export async function refusesClientWithoutCertificate(
  port: number,
  rootsFile: string,
): Promise<boolean> {
  const ca = await readFile(rootsFile, 'utf8');
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca,
      // Mesh leaves carry no DNS names; this check is about the server's side only.
      checkServerIdentity: () => undefined,
    });
    let response = '';
    const timer = setTimeout(() => finish(), 5000);
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(!response.startsWith('HTTP/'));
    };
    socket.on('secureConnect', () =>
      socket.write('GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n'),
    );
    socket.on('data', (d: Buffer) => (response += d.toString('latin1')));
    socket.on('error', finish);
    socket.on('close', finish);
  });
}

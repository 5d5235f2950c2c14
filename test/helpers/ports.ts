/**
 * Ports for tests that must name a port before something binds it (a child process's
 * flags, a bootstrap file, a listener that should collide).
 */
import net from 'node:net';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: bound on port 0, then released.
 * Another process may take it before the caller binds it, so use it only where a port
 * must be known in advance.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

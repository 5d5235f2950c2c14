/**
 * Servers a benchmark starts as child processes: find a free port, wait until the server
 * answers an HTTP probe, and stop it again.
 */
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Poll `probeUrl` until it answers 2xx. Fails with the end of the child's stderr if the
 * child exits first or `timeoutMs` passes, and kills it.
 */
export async function waitUntilServing(
  child: ChildProcess,
  probeUrl: string,
  name: string,
  timeoutMs = 20_000,
): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(probeUrl)).ok) return;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not start: ${stderr.slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM the child and wait for it to exit. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Start the proxy benchmark's upstream app (upstream-app.ts) as a child process. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitUntilServing } from './child-server.ts';
import type { ProcessGroup, Started } from './process-group.ts';

export interface Upstream {
  port: number;
  started: Started;
}

export async function startUpstream(group: ProcessGroup, processes = 1): Promise<Upstream> {
  const port = await freePort();
  const app = path.join(path.dirname(fileURLToPath(import.meta.url)), 'upstream-app.ts');
  const started = group.spawn('upstream', process.execPath, [
    '--import',
    'tsx',
    app,
    String(port),
    String(processes),
  ]);
  await waitUntilServing(started.child, `http://127.0.0.1:${port}/`, 'upstream app');
  return { port, started };
}

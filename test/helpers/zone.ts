/**
 * Start a real zone control plane in this process for a test: real HTTP listener on a
 * free 127.0.0.1 port, real store (embedded in memory by default, or a Redis URL).
 */
import { pino } from 'pino';
import { runComponents } from '../../core/index.ts';
import { createZone } from '../../zone-control/index.ts';
import type { Zone, ZoneOptions } from '../../zone-control/index.ts';

export interface TestZone {
  zone: Zone;
  /** `http://127.0.0.1:<port>` */
  url: string;
  host: string;
  port: number;
  stop(): Promise<void>;
}

export async function startZone(options: ZoneOptions = {}): Promise<TestZone> {
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const zone = await createZone(
    { name: 'test', dev: true, httpAddr: '127.0.0.1:0', xdsAddr: '127.0.0.1:0', ...options },
    logger,
  );
  const ac = new AbortController();
  const running = runComponents(zone.components(), {
    logger,
    signal: ac.signal,
    installSignals: () => () => undefined,
    drainTimeoutMs: 5000,
  });
  running.catch(() => undefined);
  await zone.http.ready();
  const { port } = zone.http.address();
  return {
    zone,
    url: `http://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    async stop() {
      ac.abort();
      await running;
    },
  };
}

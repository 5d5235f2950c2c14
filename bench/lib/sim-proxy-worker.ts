/**
 * A child process holding a share of the simulated proxies (`sim-proxy.ts`), driven over
 * Node's IPC channel by `sim-proxy-fleet.ts`. Spreading the proxies over processes keeps
 * the clients' JSON parsing off one event loop, so the clients are not what the sync
 * benchmark measures.
 *
 * Protocol: parent → `connect` (options, how many, first index), `expect` (id, weight),
 * `stats`; child → `connected`, `expecting`, `reached` (first and last time a proxy's
 * ACKed config showed the expected weight), `stats`, `failed`.
 */
import { epochMs, SimProxy } from './sim-proxy.ts';
import type { SimProxyOptions } from './sim-proxy.ts';

export type WorkerRequest =
  | {
      type: 'connect';
      options: Omit<SimProxyOptions, 'instanceId' | 'onConfig'>;
      count: number;
      first: number;
      concurrency: number;
    }
  | { type: 'expect'; id: number; weight: number }
  | { type: 'stats' };

export type WorkerReply =
  | { type: 'connected'; count: number; ms: number }
  | { type: 'expecting'; id: number }
  | { type: 'reached'; id: number; first: number; last: number; count: number }
  | { type: 'stats'; cpuMs: number; rssKiB: number; configs: number }
  | { type: 'failed'; message: string };

const proxies: SimProxy[] = [];
let expected:
  { id: number; weight: number; first: number; last: number; count: number } | undefined;

function reply(message: WorkerReply): void {
  process.send?.(message);
}

function onConfig(_proxy: SimProxy, weight: number): void {
  const e = expected;
  if (!e || weight !== e.weight) return;
  const now = epochMs();
  if (e.count === 0) e.first = now;
  e.last = now;
  // A proxy reaches the weight once per change: the next change expects another weight.
  e.count++;
  if (e.count === proxies.length) {
    reply({ type: 'reached', id: e.id, first: e.first, last: e.last, count: e.count });
    expected = undefined;
  }
}

async function connectAll(request: Extract<WorkerRequest, { type: 'connect' }>): Promise<void> {
  const started = epochMs();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < request.count) {
      const i = request.first + next++;
      const proxy = new SimProxy({ ...request.options, instanceId: `sim-${i}`, onConfig });
      proxies.push(proxy);
      await proxy.connect();
    }
  };
  await Promise.all(Array.from({ length: request.concurrency }, () => worker()));
  reply({ type: 'connected', count: proxies.length, ms: epochMs() - started });
}

process.on('message', (m: WorkerRequest) => {
  switch (m.type) {
    case 'connect':
      connectAll(m).catch((err: unknown) => reply({ type: 'failed', message: String(err) }));
      break;
    case 'expect': {
      // Proxies already showing the weight count at once (none do when changes alternate;
      // all do when the benchmark checks the starting state).
      const already = proxies.filter((p) => p.weight === m.weight).length;
      const now = epochMs();
      expected = { id: m.id, weight: m.weight, first: now, last: now, count: already };
      reply({ type: 'expecting', id: m.id });
      if (already === proxies.length) {
        reply({ type: 'reached', id: m.id, first: now, last: now, count: already });
        expected = undefined;
      }
      break;
    }
    case 'stats': {
      const cpu = process.cpuUsage();
      reply({
        type: 'stats',
        cpuMs: (cpu.user + cpu.system) / 1000,
        rssKiB: Math.round(process.memoryUsage().rss / 1024),
        configs: proxies.reduce((n, p) => n + p.configs, 0),
      });
      break;
    }
  }
});

process.on('disconnect', () => {
  for (const p of proxies) p.close();
  process.exit(0);
});

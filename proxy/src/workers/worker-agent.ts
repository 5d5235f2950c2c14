/**
 * A worker process's side of `--workers` (see ./worker-pool.ts): it waits for the
 * primary's plane spec, runs one serving plane (inbound and outbound), installs each
 * identity it is sent, and answers the primary's requests (apply a snapshot, metrics,
 * clusters, stop).
 */
import cluster from 'node:cluster';
import { childLogger } from '../../../core/index.ts';
import type { Component, Logger } from '../../../core/index.ts';
import { TlsIdentity } from '../identity/tls-identity.ts';
import { ProxyMetrics } from '../metrics.ts';
import { localPlane } from '../proxy.ts';
import type { PlaneSpec } from '../proxy.ts';
import type { IdentityMessage, ToWorker } from './messages.ts';

/** A worker process's components: one data plane, driven by the primary over IPC. */
export function workerComponents(logger: Logger): Component[] {
  return [new WorkerAgent(childLogger(logger, `worker-${cluster.worker?.id ?? 0}`))];
}

class WorkerAgent implements Component {
  readonly name = 'worker';

  constructor(private readonly logger: Logger) {}

  async start(signal: AbortSignal): Promise<void> {
    // One handler from the start: IPC delivers the identity right after the init, and a
    // handler added later would miss it.
    let onMessage: (m: ToWorker) => void = () => undefined;
    let early: IdentityMessage | undefined;
    const spec = await new Promise<PlaneSpec | undefined>((resolve) => {
      onMessage = (m: ToWorker) => {
        if (m.type === 'cw:init') resolve(m.spec);
        else if (m.type === 'cw:identity') early = m;
      };
      process.on('message', (m: ToWorker) => onMessage(m));
      signal.addEventListener('abort', () => resolve(undefined), { once: true });
      process.send?.({ type: 'cw:hello' });
    });
    if (spec === undefined) return;
    const tls = new TlsIdentity({ trustDomain: spec.trustDomain });
    const metrics = new ProxyMetrics({ processMetrics: true });
    // The primary applies the initial snapshot through apply(), like any other.
    const plane = localPlane({})({ ...spec, initial: undefined }, tls, metrics, this.logger);
    const stop = new AbortController();
    const running = plane.start(AbortSignal.any([signal, stop.signal]));
    const reply = (id: number, work: () => unknown): void => {
      void Promise.resolve()
        .then(work)
        .then(
          (value) => process.send?.({ type: 'cw:reply', id, ok: true, value }),
          (err: Error) => process.send?.({ type: 'cw:reply', id, ok: false, error: err.message }),
        );
    };
    const install = ({ material, ticketKeys }: IdentityMessage): void => {
      try {
        tls.update(material, Buffer.from(ticketKeys, 'base64'));
      } catch (err) {
        this.logger.error({ err: (err as Error).message }, 'identity from the primary refused');
      }
    };
    if (early) install(early);
    onMessage = (m: ToWorker): void => {
      switch (m.type) {
        case 'cw:identity':
          install(m);
          break;
        case 'cw:config':
          reply(m.id, async () => {
            await plane.apply(m.config, m.version);
            return plane.listenerPorts();
          });
          break;
        case 'cw:metrics':
          reply(m.id, () => metrics.registry.getMetricsAsJSON());
          break;
        case 'cw:clusters':
          reply(m.id, () => plane.clusters());
          break;
        case 'cw:stop':
          stop.abort();
          break;
        case 'cw:init':
          break;
      }
    };
    // The primary going away without a word (killed) stops this worker too.
    process.once('disconnect', () => stop.abort());
    try {
      await Promise.race([plane.ready(), running]);
      process.send?.({ type: 'cw:listening', port: plane.inboundPort() });
      await running;
    } finally {
      onMessage = () => undefined;
    }
    // Stopped by the primary rather than a signal: end the process's runner too.
    if (!signal.aborted) process.kill(process.pid, 'SIGTERM');
  }
}

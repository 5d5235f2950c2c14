/**
 * A simulated sidecar for control-plane benchmarks: one config stream connection (the
 * real protocol over TLS, `docs/proxy-stream.md`) that says hello with one upstream, ACKs
 * every `leaf`, `bundle` and `config` push at once, and keeps from each config only what
 * the benchmark watches: the total weight of one zone's endpoints in one cluster. It never
 * opens a listener or builds a TLS context from its leaf, so a thousand of them fit in one
 * process; what it costs the zone is what a real proxy's stream costs.
 */
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { spiffeServerIdentityCheck } from '../../core/index.ts';
import type { ZoneMessage } from '../../core/src/proxy-stream/messages.ts';
import { PROTOCOL_VERSION, frameText } from '../../core/src/proxy-stream/messages.ts';

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

export interface SimProxyOptions {
  /** `wss://host:port/` of the zone's proxy stream. */
  url: string;
  /** The zone's trust bundle (PEM roots). */
  roots: string[];
  /** The zone's control SPIFFE ID the server must present. */
  controlId: string;
  service: string;
  instanceId: string;
  /** A CSR for the service's SPIFFE ID (one may be shared by every simulated proxy). */
  csr: string;
  upstream: string;
  /** Watch the endpoints of `cluster` in `zone`. */
  watch: { cluster: string; zone: string };
  /** Called after each config is ACKed, with the watched weight. */
  onConfig: (proxy: SimProxy, weight: number) => void;
}

export class SimProxy {
  /** Total weight of the watched zone's endpoints in the newest config; -1 before one. */
  weight = -1;
  configs = 0;
  #ws: WebSocket | undefined;

  constructor(private readonly options: SimProxyOptions) {}

  /** Open the stream and send hello; resolves when the first config has been ACKed. */
  connect(): Promise<void> {
    const o = this.options;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(o.url, {
        ca: o.roots,
        checkServerIdentity: spiffeServerIdentityCheck(o.controlId) as unknown as () => boolean,
        // A thousand sockets: the zone pushes small frames, no need for compression state.
        perMessageDeflate: false,
      });
      this.#ws = ws;
      ws.on('error', reject);
      ws.on('close', (code) => reject(new Error(`stream closed (${code}) for ${o.instanceId}`)));
      ws.on('open', () => {
        ws.send(
          JSON.stringify({
            type: 'hello',
            protocol: PROTOCOL_VERSION,
            service: o.service,
            namespace: 'default',
            instanceId: o.instanceId,
            address: '127.0.0.1',
            port: 20000,
            upstreams: [{ service: o.upstream, namespace: 'default', localPort: 9001 }],
            csr: o.csr,
            appProtocol: 'http',
            node: o.instanceId,
            meta: {},
            tags: [],
          }),
        );
      });
      ws.on('message', (data) => {
        const m = JSON.parse(frameText(data)) as ZoneMessage;
        if (m.type === 'error') {
          reject(new Error(`${o.instanceId}: ${m.code} ${m.message}`));
          return;
        }
        ws.send(JSON.stringify({ type: 'ack', kind: m.type, version: m.version, nonce: m.nonce }));
        if (m.type !== 'config') return;
        this.configs++;
        this.weight = watchedWeight(m.snapshot, o.watch);
        o.onConfig(this, this.weight);
        resolve();
      });
    });
  }

  close(): void {
    this.#ws?.removeAllListeners('close');
    this.#ws?.on('error', () => undefined);
    this.#ws?.terminate();
  }
}

interface SnapshotShape {
  clusters?: { name: string; endpoints?: { zone: string; weight: number; health?: string }[] }[];
}

function watchedWeight(
  snapshot: Record<string, unknown>,
  watch: { cluster: string; zone: string },
): number {
  const cluster = (snapshot as SnapshotShape).clusters?.find((c) => c.name === watch.cluster);
  let weight = 0;
  for (const e of cluster?.endpoints ?? []) {
    if (e.zone === watch.zone && e.health !== 'critical') weight += e.weight;
  }
  return weight;
}

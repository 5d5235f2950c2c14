/**
 * The data plane of one proxy process: the inbound listener, the outbound listeners and
 * the config snapshot they serve. `apply()` is all-or-nothing from the caller's view: if
 * a part refuses the snapshot (a listener port cannot bind, a check fails), it rejects
 * and the last good snapshot is what the proxy reports and keeps serving.
 */
import { InvalidArgumentError, untilAborted } from '../../core/index.ts';
import type { Component, ProxyConfig } from '../../core/index.ts';
import type { Inbound } from './inbound/inbound.ts';
import type { ProxyMetrics } from './metrics.ts';

/** The outbound side as the proxy shell uses it (implemented by `outbound/outbound.ts`). */
export interface OutboundPlane {
  apply(config: ProxyConfig): Promise<void>;
  clusters(): unknown;
  listenerPorts(): Record<string, number>;
  close(): Promise<void>;
}

/**
 * What serves traffic, as the proxy shell drives it: this process's {@link DataPlane}, or
 * the worker pool that runs one per worker (`--workers`).
 */
export interface ServingPlane extends Component {
  apply(config: ProxyConfig, version: number): Promise<void>;
  readonly applied: AppliedConfig | undefined;
  inboundPort(): number | undefined;
  listenerPorts(): Record<string, number> | Promise<Record<string, number>>;
  clusters(): unknown;
}

export interface AppliedConfig {
  config: ProxyConfig;
  version: number;
  appliedAt: string;
}

export interface SnapshotOwner {
  service: string;
  namespace: string;
  trustDomain: string;
}

export interface DataPlaneOptions {
  inbound: Inbound;
  outbound: OutboundPlane;
  metrics: ProxyMetrics;
  /** Snapshots must be for this service (stream mode); unchecked when absent. */
  expect?: SnapshotOwner;
  /** Where the inbound listener binds its port; the snapshot's port when absent. */
  inboundPort?: number;
  /** A snapshot to serve from the start (static bootstrap). */
  initial?: ProxyConfig;
}

export class DataPlane implements ServingPlane {
  readonly name = 'data-plane';
  #applied: AppliedConfig | undefined;
  /** Snapshots apply one at a time, in arrival order. */
  #queue: Promise<unknown> = Promise.resolve();
  #started!: () => void;
  readonly #ready = new Promise<void>((resolve) => (this.#started = resolve));

  constructor(private readonly options: DataPlaneOptions) {}

  get applied(): AppliedConfig | undefined {
    return this.#applied;
  }

  inboundPort(): number | undefined {
    try {
      return this.options.inbound.port();
    } catch {
      return undefined;
    }
  }

  listenerPorts(): Record<string, number> {
    return this.options.outbound.listenerPorts();
  }

  clusters(): unknown {
    return this.options.outbound.clusters();
  }

  /** Resolves once the inbound listener is bound (and the initial snapshot applied). */
  ready(): Promise<void> {
    return this.#ready;
  }

  apply(config: ProxyConfig, version: number): Promise<void> {
    const run = this.#queue.then(() => this.#apply(config, version));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #apply(config: ProxyConfig, version: number): Promise<void> {
    const expect = this.options.expect;
    if (expect) {
      for (const key of ['service', 'namespace', 'trustDomain'] as const) {
        if (config[key] !== expect[key]) {
          throw new InvalidArgumentError(
            `the snapshot is for ${key} ${config[key]}, this proxy is ${expect[key]}`,
            key,
          );
        }
      }
    }
    // Outbound first: it is the part that can refuse (a port in use), and the inbound
    // swap cannot fail once its listener is bound.
    await this.options.outbound.apply(config);
    await this.options.inbound.apply(config);
    this.#applied = { config, version, appliedAt: new Date().toISOString() };
    this.options.metrics.configVersion.set(version);
  }

  async start(signal: AbortSignal): Promise<void> {
    const { inbound, initial, inboundPort } = this.options;
    try {
      // Bound before the hello, which tells the zone the port.
      await inbound.listen(inboundPort ?? initial?.inbound.port ?? 0);
      if (initial) await this.apply(initial, 1);
    } catch (err) {
      await Promise.all([inbound.close(), this.options.outbound.close()]);
      throw err;
    }
    this.#started();
    await untilAborted(signal);
    await Promise.all([this.options.inbound.close(), this.options.outbound.close()]);
  }
}

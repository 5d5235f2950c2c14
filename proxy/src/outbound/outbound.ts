/**
 * The outbound side of the proxy: one listener on the loopback address per upstream the
 * app calls (TCP, HTTP/1.1 or h2c), routing to clusters of mTLS endpoints.
 *
 * `apply()` reconciles with a snapshot without dropping what works: listeners that are
 * new or moved are bound first, and if one cannot bind nothing changes and the call
 * rejects; then clusters are updated in place (endpoints keep their pools, sessions,
 * latency and ejections by `address:port`), routes are swapped, and listeners no longer
 * wanted close gracefully.
 */
import type { Logger, OutboundListener as OutboundSpec, ProxyConfig } from '../../../core/index.ts';
import { InvalidArgumentError, childLogger } from '../../../core/index.ts';
import type { MeshTls } from '../mesh-tls.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { HttpOutboundListener } from './http-listener.ts';
import { Http2OutboundListener } from './http2-listener.ts';
import type { ListenerContext, OutboundListenerRuntime } from './listener.ts';
import { MtlsConnector } from './mtls-connector.ts';
import { compileRoutes } from './route-table.ts';
import type { CompiledRoute } from './route-table.ts';
import { TcpOutboundListener } from './tcp-listener.ts';
import { UpstreamCluster } from './upstream-cluster.ts';
import type { ClusterStatus } from './upstream-cluster.ts';

export type { ClusterStatus, EndpointStatus } from './upstream-cluster.ts';

export interface OutboundOptions {
  tls: MeshTls;
  metrics: ProxyMetrics;
  logger: Logger;
  /**
   * Where outbound listeners bind.
   * @default "127.0.0.1"
   */
  bindAddress?: string;
  /**
   * How long a removed listener's open connections may take to finish before they are cut.
   * @default 10000
   */
  drainMs?: number;
}

export class Outbound {
  readonly #context: ListenerContext;
  readonly #connector: MtlsConnector;
  readonly #metrics: ProxyMetrics;
  readonly #logger: Logger;
  readonly #drainMs: number;
  #listeners = new Map<string, OutboundListenerRuntime>();
  #clusters = new Map<string, UpstreamCluster>();
  readonly #draining = new Set<Promise<void>>();
  #applying: Promise<void> = Promise.resolve();
  #closed = false;
  /** The routes each listener serves (to restore one if a protocol switch fails). */
  #routes = new Map<string, CompiledRoute[]>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: OutboundOptions) {
    this.#metrics = options.metrics;
    this.#logger = childLogger(options.logger, 'outbound');
    this.#drainMs = options.drainMs ?? 10_000;
    this.#context = {
      metrics: options.metrics,
      logger: this.#logger,
      bindAddress: options.bindAddress ?? '127.0.0.1',
    };
    this.#connector = new MtlsConnector(options.tls, options.metrics);
    this.#sweeper = setInterval(() => {
      const now = performance.now();
      for (const cluster of this.#clusters.values()) cluster.sweep(now);
    }, 1_000);
    this.#sweeper.unref();
  }

  /**
   * Reconcile listeners and clusters with the snapshot without dropping established
   * connections; rejects (leaving the previous state serving) if a listener cannot bind
   * or a route names an unknown cluster. Calls are serialised.
   */
  apply(config: ProxyConfig): Promise<void> {
    const next = this.#applying.then(() => this.#apply(config));
    this.#applying = next.catch(() => undefined);
    return next;
  }

  async #apply(config: ProxyConfig): Promise<void> {
    if (this.#closed) throw new InvalidArgumentError('outbound is closed', 'outbound');
    // 1. Clusters as they will be: existing ones (updated only at commit) and new ones.
    const clusters = new Map<string, UpstreamCluster>();
    const created: UpstreamCluster[] = [];
    for (const c of config.clusters) {
      let cluster = this.#clusters.get(c.name);
      if (cluster === undefined) {
        cluster = new UpstreamCluster(c, config.trustDomain, this.#connector, this.#metrics);
        created.push(cluster);
      }
      clusters.set(c.name, cluster);
    }
    const routes = new Map<string, CompiledRoute[]>();
    try {
      config.outbound.forEach((l, i) => {
        try {
          routes.set(l.name, compileRoutes(l.routes, clusters, l.name));
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message, `outbound[${i}].routes`);
        }
      });
    } catch (err) {
      for (const c of created) c.retire();
      throw err;
    }

    // 2. Bind listeners that are new or moved, before anything else changes. A protocol
    // change on the same port waits (2b): its old listener must close before the new one
    // can bind, which is only done once everything else is known to apply.
    const bound: OutboundListenerRuntime[] = [];
    const replaced: OutboundListenerRuntime[] = [];
    const switches: { spec: OutboundSpec; index: number; current: OutboundListenerRuntime }[] = [];
    const failures: string[] = [];
    let failedField = '';
    const bind = async (spec: OutboundSpec, index: number): Promise<boolean> => {
      const listener = this.#create(spec.name, spec.protocol, spec.port);
      try {
        await listener.listen();
        bound.push(listener);
        return true;
      } catch (err) {
        failures.push(
          `listener ${spec.name} cannot bind ${this.#context.bindAddress}:${spec.port}: ${(err as Error).message}`,
        );
        failedField ||= `outbound[${index}].port`;
        return false;
      }
    };
    await Promise.all(
      config.outbound.map(async (l, i) => {
        const current = this.#listeners.get(l.name);
        if (current?.requestedPort === l.port && current.protocol === l.protocol) return;
        if (current !== undefined && l.port !== 0 && current.requestedPort === l.port) {
          switches.push({ spec: l, index: i, current });
          return;
        }
        if (current !== undefined) replaced.push(current);
        await bind(l, i);
      }),
    );
    // 2b. Same-port protocol switches, one at a time; a failure restores what was closed.
    const switched: OutboundListenerRuntime[] = [];
    if (failures.length === 0) {
      for (const { spec, index, current } of switches) {
        this.#listeners.delete(spec.name);
        switched.push(current);
        await current.close(0);
        if (!(await bind(spec, index))) break;
      }
    }
    if (failures.length > 0) {
      await Promise.all(bound.map((l) => l.close(0)));
      for (const old of switched) await this.#restore(old);
      for (const c of created) c.retire();
      throw new InvalidArgumentError(failures.join('; '), failedField);
    }

    // 3. Commit.
    for (const c of config.clusters) {
      const cluster = clusters.get(c.name) as UpstreamCluster;
      if (!created.includes(cluster)) cluster.update(c, config.trustDomain);
    }
    for (const [name, cluster] of this.#clusters) if (!clusters.has(name)) cluster.retire();
    this.#clusters = clusters;
    const listeners = new Map<string, OutboundListenerRuntime>();
    for (const l of config.outbound) {
      const listener = bound.find((b) => b.name === l.name) ?? this.#listeners.get(l.name);
      if (listener === undefined) continue; // every listener was either kept or bound above
      listener.setRoutes(routes.get(l.name) as CompiledRoute[]);
      listeners.set(l.name, listener);
    }
    this.#routes = routes;
    for (const [name, listener] of this.#listeners) {
      if (!listeners.has(name)) replaced.push(listener);
    }
    this.#listeners = listeners;
    for (const old of replaced) this.#drain(old);
    this.#logger.debug(
      { listeners: this.listenerPorts(), clusters: [...clusters.keys()] },
      'outbound config applied',
    );
  }

  #create(name: string, protocol: string, port: number): OutboundListenerRuntime {
    return protocol === 'tcp'
      ? new TcpOutboundListener(name, port, this.#context)
      : protocol === 'http2'
        ? new Http2OutboundListener(name, port, this.#context)
        : new HttpOutboundListener(name, port, this.#context);
  }

  /** Bring back a listener a failed apply closed for a protocol switch, with its routes. */
  async #restore(old: OutboundListenerRuntime): Promise<void> {
    const listener = this.#create(old.name, old.protocol, old.requestedPort);
    try {
      await listener.listen();
    } catch (err) {
      this.#logger.error(
        { listener: old.name, port: old.requestedPort, err: (err as Error).message },
        'cannot restore a listener after a rejected config; it stays down until the next one',
      );
      return;
    }
    listener.setRoutes(this.#routes.get(old.name) ?? []);
    this.#listeners.set(old.name, listener);
  }

  #drain(listener: OutboundListenerRuntime): void {
    const closing = listener.close(this.#drainMs).finally(() => this.#draining.delete(closing));
    this.#draining.add(closing);
  }

  /** Per-cluster state, for the admin `/clusters` endpoint. */
  clusters(): ClusterStatus[] {
    return [...this.#clusters.values()].map((c) => c.status());
  }

  listenerPorts(): Record<string, number> {
    const ports: Record<string, number> = {};
    for (const [name, listener] of this.#listeners) ports[name] = listener.port();
    return ports;
  }

  /** Close every listener (open connections get `drainMs`) and every upstream connection. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    await this.#applying;
    const listeners = [...this.#listeners.values()];
    this.#listeners = new Map();
    await Promise.all([...listeners.map((l) => l.close(this.#drainMs)), ...[...this.#draining]]);
    for (const cluster of this.#clusters.values()) cluster.destroy();
    this.#clusters = new Map();
    this.#connector.close();
  }
}

/**
 * A test bench for Outbound: a CA, the calling proxy's identity ("web"), real mTLS
 * terminators standing in for destination proxies, configs built through
 * `decodeProxyConfig` (so defaults are the real ones), and a keep-alive HTTP client.
 */
import { request, Agent } from 'node:http';
import type { IncomingHttpHeaders, RequestListener } from 'node:http';
import { Writable } from 'node:stream';
import { createLogger, decodeProxyConfig } from '../../../core/index.ts';
import type { ProxyConfig } from '../../../core/index.ts';
import type { TlsIdentity } from '../../../proxy/src/identity/tls-identity.ts';
import { ProxyMetrics } from '../../../proxy/src/metrics.ts';
import { Outbound } from '../../../proxy/src/outbound/outbound.ts';
import { MtlsTerminator } from '../../helpers/proxy-identity.ts';
import { TestCa } from '../../helpers/test-ca.ts';
import type { Workload } from '../../helpers/test-ca.ts';
import { readResponse } from '../fixtures/mesh-client.ts';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface ListenerSpec {
  name: string;
  protocol?: 'tcp' | 'http' | 'http2';
  routes: Record<string, unknown>[];
}

export class OutboundFixture {
  readonly metrics = new ProxyMetrics();
  readonly logLines: Record<string, unknown>[] = [];
  readonly terminators: MtlsTerminator[] = [];
  readonly agent = new Agent({ keepAlive: true });
  outbound!: Outbound;
  identity!: TlsIdentity;
  ca!: TestCa;

  static async create(ca?: TestCa): Promise<OutboundFixture> {
    const f = new OutboundFixture();
    f.ca = ca ?? (await TestCa.create());
    f.identity = await f.ca.tlsIdentity({ service: 'web' });
    const lines = f.logLines;
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n'))
          if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        cb();
      },
    });
    f.outbound = new Outbound({
      tls: f.identity,
      metrics: f.metrics,
      logger: createLogger({ level: 'info', destination }),
      drainMs: 1000,
    });
    return f;
  }

  /** Start a destination: HTTP `app`, or a TCP echo without one. */
  async backend(
    app?: RequestListener,
    workload: Workload = { service: 'backend' },
  ): Promise<MtlsTerminator> {
    const t = await MtlsTerminator.start({ identity: await this.ca.tlsIdentity(workload), app });
    this.terminators.push(t);
    return t;
  }

  /** An endpoint entry for a terminator. */
  static endpoint(
    this: void,
    t: MtlsTerminator,
    extra: Record<string, unknown> = {},
  ): Record<string, unknown> {
    return {
      address: '127.0.0.1',
      port: t.port,
      zone: 'test',
      instanceId: `i-${t.port}`,
      ...extra,
    };
  }

  /** A snapshot from listener and cluster specs; listener ports become 0 (any free port). */
  static config(
    this: void,
    listeners: ListenerSpec[],
    clusters: Record<string, unknown>[],
    ports: number[] = [],
  ): ProxyConfig {
    const config = decodeProxyConfig({
      service: 'web',
      zone: 'test',
      trustDomain: 'causeway.mesh',
      inbound: { port: 15006 },
      outbound: listeners.map((l, i) => ({ protocol: 'http', ...l, port: 20000 + i })),
      clusters: clusters.map((c) => ({ service: c.name, namespace: 'default', ...c })),
    });
    config.outbound.forEach((l, i) => (l.port = ports[i] ?? 0));
    return config;
  }

  /** One listener `backend` routing everything to cluster `backend` with these settings. */
  static simple(
    this: void,
    endpoints: Record<string, unknown>[],
    cluster: Record<string, unknown> = {},
    route: Record<string, unknown> = {},
    protocol: 'tcp' | 'http' | 'http2' = 'http',
  ): ProxyConfig {
    return OutboundFixture.config(
      [
        {
          name: 'backend',
          protocol,
          routes: [{ match: {}, destinations: [{ cluster: 'backend', weight: 1 }], ...route }],
        },
      ],
      [{ name: 'backend', endpoints, ...cluster }],
    );
  }

  port(listener = 'backend'): number {
    const port = this.outbound.listenerPorts()[listener];
    if (port === undefined) throw new Error(`no listener ${listener}`);
    return port;
  }

  /** An HTTP request through a listener (keep-alive client, like an app). */
  call(
    path: string,
    options: {
      method?: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
      listener?: string;
    } = {},
  ): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port(options.listener),
          path,
          method: options.method ?? 'GET',
          headers: options.headers,
          agent: this.agent,
        },
        (res) => void readResponse(res).then(resolve, reject),
      );
      req.on('error', reject);
      req.end(options.body);
    });
  }

  async counter(name: keyof ProxyMetrics, labels: Record<string, string>): Promise<number> {
    const metric = this.metrics[name] as {
      get(): Promise<{
        values: { labels: Record<string, unknown>; value: number; metricName?: string }[];
      }>;
    };
    const { values } = await metric.get();
    let sum = 0;
    for (const v of values) {
      if (v.metricName !== undefined && v.metricName.endsWith('_bucket')) continue;
      if (v.metricName !== undefined && v.metricName.endsWith('_sum')) continue;
      if (Object.entries(labels).every(([k, want]) => v.labels[k] === want)) sum += v.value;
    }
    return sum;
  }

  async close(): Promise<void> {
    this.agent.destroy();
    await this.outbound.close();
    await Promise.all(this.terminators.map((t) => t.close()));
  }
}

/** An app answering from a list of statuses in turn (the last repeats), counting hits. */
export function scriptedApp(statuses: number[], delayMs = 0): RequestListener & { hits: number } {
  const app = ((req, res) => {
    const status = statuses[Math.min(app.hits, statuses.length - 1)] as number;
    app.hits++;
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        res.writeHead(status, { 'content-type': 'text/plain', 'x-hit': String(app.hits) });
        res.end(`status ${status}`);
      }, delayMs);
    });
  }) as RequestListener & { hits: number };
  app.hits = 0;
  return app;
}

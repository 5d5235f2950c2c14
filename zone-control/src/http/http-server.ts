/**
 * The zone's HTTP listener as a lifecycle component: binds on start, reports ready once
 * bound, and on stop refuses new connections, lets in-flight requests finish, and ends
 * long-held ones (blocking queries) through the abort signal handlers see.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Component, HostPort, Logger } from '../../../core/index.ts';

export class HttpServerComponent implements Component {
  readonly name = 'http-api';
  private readonly server: http.Server;
  private readonly bound: Promise<void>;
  private resolveBound!: () => void;
  private rejectBound!: (err: unknown) => void;

  constructor(
    app: Koa,
    private readonly addr: HostPort,
    private readonly logger: Logger,
    /** Aborted when the server stops, so blocking queries answer at once. */
    private readonly stopping: AbortController,
  ) {
    const handle = app.callback();
    this.server = http.createServer((req, res) => {
      void handle(req, res);
    });
    // Blocking queries hold a request up to 10m + jitter; Node's defaults would cut them.
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 60_000;
    this.server.keepAliveTimeout = 65_000;
    this.bound = new Promise<void>((resolve, reject) => {
      this.resolveBound = resolve;
      this.rejectBound = reject;
    });
  }

  /** The bound address (its port is known once ready). */
  address(): HostPort {
    const a = this.server.address() as AddressInfo | null;
    return a ? { host: a.address, port: a.port } : this.addr;
  }

  ready(): Promise<void> {
    return this.bound;
  }

  async start(signal: AbortSignal): Promise<void> {
    this.server.once('error', (err) => this.rejectBound(err));
    this.server.listen(this.addr.port, this.addr.host, () => {
      const a = this.address();
      this.logger.info({ addr: `${a.host}:${a.port}` }, 'HTTP API listening');
      this.resolveBound();
    });
    await this.bound;
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    this.stopping.abort();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }
}

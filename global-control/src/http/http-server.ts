/**
 * The global's HTTP listener as a lifecycle component: binds on start, reports ready once
 * bound, and on stop refuses new connections and lets in-flight requests finish.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Component, HostPort, Logger } from '../../../core/index.ts';

export class HttpServerComponent implements Component {
  readonly name = 'http-api';
  readonly #server: http.Server;
  readonly #addr: HostPort;
  readonly #logger: Logger;
  readonly #bound: Promise<void>;
  #resolveBound!: () => void;
  #rejectBound!: (err: unknown) => void;

  constructor(app: Koa, addr: HostPort, logger: Logger) {
    const handle = app.callback();
    this.#server = http.createServer((req, res) => {
      void handle(req, res);
    });
    this.#addr = addr;
    this.#logger = logger;
    this.#bound = new Promise<void>((resolve, reject) => {
      this.#resolveBound = resolve;
      this.#rejectBound = reject;
    });
  }

  /** The bound address (its real port once ready). */
  address(): HostPort {
    const a = this.#server.address() as AddressInfo | null;
    return a ? { host: a.address, port: a.port } : this.#addr;
  }

  ready(): Promise<void> {
    return this.#bound;
  }

  async start(signal: AbortSignal): Promise<void> {
    this.#server.once('error', (err) => this.#rejectBound(err));
    this.#server.listen(this.#addr.port, this.#addr.host, () => {
      const a = this.address();
      this.#logger.info({ addr: `${a.host}:${a.port}` }, 'HTTP API listening');
      this.#resolveBound();
    });
    await this.#bound;
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
    });
  }
}

/**
 * The admin API of a data-plane process (Envoy's admin port): `/ready`, the process's own
 * JSON paths (the proxy's `/config_dump` and `/clusters`, the gateway's `/config_dump` and
 * `/tunnels`), `/stats/prometheus` and `/stats`. Plain `node:http`, GET only, bound to
 * loopback by default: it shows the whole config, so it is not for the network.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  InvalidArgumentError,
  MethodNotAllowedError,
  NotFoundError,
  httpStatusOf,
  toErrorBody,
} from '../errors.ts';
import { untilAborted } from '../lifecycle.ts';
import type { Component } from '../lifecycle.ts';
import type { Logger } from '../logging.ts';
import type { HostPort } from '../options/index.ts';

/** What `/ready` answers: 200 when ready, 503 with the reasons otherwise. */
export interface Readiness {
  ready: boolean;
  /** Why not ready (empty when ready). */
  reasons: string[];
}

/** What the admin API reads; each call reflects the moment it is made. */
export interface AdminSources {
  readiness(): Readiness;
  /**
   * The process's JSON paths in the order the 404 message lists them, e.g.
   * `{ '/config_dump': …, '/clusters': … }`; a function may return a promise.
   */
  json: Readonly<Record<string, () => unknown>>;
  /** Prometheus text exposition. */
  prometheus(): Promise<{ contentType: string; body: string }>;
  /** The same metrics as JSON (prom-client's `getMetricsAsJSON`). */
  statsJson(): Promise<unknown>;
}

export class AdminServer implements Component {
  readonly name = 'admin';
  readonly #server: http.Server;
  readonly #paths: string;
  #bound!: () => void;
  #failed!: (err: Error) => void;
  readonly #ready = new Promise<void>((resolve, reject) => {
    this.#bound = resolve;
    this.#failed = reject;
  });

  constructor(
    private readonly addr: HostPort,
    private readonly sources: AdminSources,
    private readonly logger: Logger,
  ) {
    this.#paths = ['/ready', ...Object.keys(sources.json), '/stats/prometheus', '/stats'].join(
      ', ',
    );
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        // A failure while answering (the client went away mid-write): never a crash.
        this.logger.warn({ err: String(err) }, 'admin request failed');
        res.destroy();
      });
    });
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  address(): HostPort {
    const a = this.#server.address() as AddressInfo | null;
    return a ? { host: a.address, port: a.port } : this.addr;
  }

  /** Bind now, before {@link start} (the proxy advertises the admin port in its hello). */
  async listen(): Promise<HostPort> {
    if (!this.#server.listening) {
      this.#server.listen(this.addr.port, this.addr.host);
      try {
        await once(this.#server, 'listening');
      } catch (err) {
        this.#failed(err as Error);
        throw err;
      }
      // Tests find the port by this exact line: `addr` must stay the last field before `msg`.
      const { host, port } = this.address();
      this.logger.info({ addr: `${host}:${port}` }, 'admin API listening');
      this.#bound();
    }
    return this.address();
  }

  async start(signal: AbortSignal): Promise<void> {
    await this.listen();
    await untilAborted(signal);
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let path = req.url ?? '/';
    try {
      // Absolute-form request targets are parsed too, and `http://[` does not parse.
      try {
        path = new URL(path, 'http://admin').pathname;
      } catch {
        throw new InvalidArgumentError(`bad request target ${JSON.stringify(path)}`, 'url');
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        throw new MethodNotAllowedError(req.method ?? '', path, ['GET', 'HEAD']);
      }
      switch (path) {
        case '/ready': {
          const r = this.sources.readiness();
          return json(res, r.ready ? 200 : 503, r);
        }
        case '/stats/prometheus': {
          const { contentType, body } = await this.sources.prometheus();
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
          return;
        }
        case '/stats':
          return json(res, 200, await this.sources.statsJson());
      }
      // An own-property check: `/constructor` or `/toString` are not paths.
      const read = Object.hasOwn(this.sources.json, path) ? this.sources.json[path] : undefined;
      if (!read) throw new NotFoundError(`no admin endpoint ${path}; try ${this.#paths}`);
      return json(res, 200, await read());
    } catch (err) {
      if (httpStatusOf(err) >= 500)
        this.logger.error({ err: String(err), path }, 'admin request failed');
      const headers: Record<string, string> =
        err instanceof MethodNotAllowedError ? { allow: err.allowed.join(', ') } : {};
      json(res, httpStatusOf(err), toErrorBody(err), headers);
    }
  }
}

function json(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

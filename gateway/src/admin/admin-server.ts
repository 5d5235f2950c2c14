/**
 * The gateway's admin API, on the proxy's model (Envoy's admin port): `/ready`,
 * `/config_dump`, `/tunnels`, `/stats/prometheus`, `/stats`. Plain `node:http`, GET only,
 * bound to loopback by default: it shows the whole config, so it is not for the network.
 *
 * The proxy has the same server with other paths (proxy/src/admin/admin-server.ts); the
 * two could become one in core with a table of paths.
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
  untilAborted,
} from '../../../core/index.ts';
import type { Component, HostPort, Logger } from '../../../core/index.ts';

export interface Readiness {
  ready: boolean;
  /** Why not ready (empty when ready). */
  reasons: string[];
}

/** What the admin API reads; each call reflects the moment it is made. */
export interface GatewayAdminSource {
  readiness(): Readiness;
  configDump(): unknown;
  tunnels(): unknown;
  /** Prometheus text exposition. */
  prometheus(): Promise<{ contentType: string; body: string }>;
  /** The same metrics as JSON (prom-client's `getMetricsAsJSON`). */
  statsJson(): Promise<unknown>;
}

const PATHS = ['/ready', '/config_dump', '/tunnels', '/stats/prometheus', '/stats'];

export class GatewayAdminServer implements Component {
  readonly name = 'admin';
  readonly #server: http.Server;
  #bound!: () => void;
  #failed!: (err: Error) => void;
  readonly #ready = new Promise<void>((resolve, reject) => {
    this.#bound = resolve;
    this.#failed = reject;
  });

  constructor(
    private readonly addr: HostPort,
    private readonly source: GatewayAdminSource,
    private readonly logger: Logger,
  ) {
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

  async listen(): Promise<HostPort> {
    if (!this.#server.listening) {
      this.#server.listen(this.addr.port, this.addr.host);
      try {
        await once(this.#server, 'listening');
      } catch (err) {
        this.#failed(err as Error);
        throw err;
      }
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
          const r = this.source.readiness();
          return json(res, r.ready ? 200 : 503, r);
        }
        case '/config_dump':
          return json(res, 200, this.source.configDump());
        case '/tunnels':
          return json(res, 200, this.source.tunnels());
        case '/stats/prometheus': {
          const { contentType, body } = await this.source.prometheus();
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
          return;
        }
        case '/stats':
          return json(res, 200, await this.source.statsJson());
        default:
          throw new NotFoundError(`no admin endpoint ${path}; try ${PATHS.join(', ')}`);
      }
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

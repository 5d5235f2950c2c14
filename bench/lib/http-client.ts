/**
 * A minimal keep-alive HTTP client for benchmarks. Both sides of a comparison go through
 * this same client, so its overhead cancels out of the ratios (Node 20's fetch costs
 * several times more per request than `http.request`).
 */
import http from 'node:http';

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export class BenchHttpClient {
  private readonly agent: http.Agent;

  constructor(
    private readonly host: string,
    private readonly port: number,
    maxSockets = 64,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  request(method: string, path: string, body?: Buffer | string): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: this.host, port: this.port, method, path, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Like {@link request}, but fails unless the status is 2xx. */
  async ok(method: string, path: string, body?: Buffer | string): Promise<HttpResult> {
    const res = await this.request(method, path, body);
    if (res.status < 200 || res.status > 299) {
      throw new Error(`${method} ${path} answered ${res.status}: ${res.body.toString()}`);
    }
    return res;
  }

  close(): void {
    this.agent.destroy();
  }
}

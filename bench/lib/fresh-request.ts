/**
 * One HTTP GET on a connection of its own (no agent, `Connection: close`), timed from
 * before the TCP connect to the last byte of the body: what a client that does not keep
 * connections alive pays per request, and, after the path behind it went idle, what the
 * first request pays to set that path up again.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface FreshReply {
  ms: number;
  status: number;
  body: string;
}

export function freshRequest(url: string, timeoutMs = 30_000): Promise<FreshReply> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({ ms: performance.now() - started, status: res.statusCode ?? 0, body }),
      );
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${url} timed out`)));
    req.on('error', reject);
  });
}

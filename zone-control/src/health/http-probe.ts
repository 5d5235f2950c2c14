/**
 * One HTTP health check run, as Consul's `CheckHTTP` does it: a request without keep-alive
 * (a pooled connection could hide a listener that stopped accepting), redirects followed
 * unless disabled, at most 4 KiB of the body kept as output. 2xx and 3xx are passing, 429
 * (Too Many Requests) is warning, anything else or no answer is critical.
 */
import http from 'node:http';
import https from 'node:https';
import type { CheckDefinition, HealthStatus } from '../../../core/src/catalog/types.ts';

export interface ProbeResult {
  status: HealthStatus;
  output: string;
}

/** Consul keeps 4 KiB of a check's output by default. */
export const MAX_OUTPUT_BYTES = 4096;
const MAX_REDIRECTS = 10;
const USER_AGENT = 'Causeway Health Check';

/** The status an HTTP answer code means. */
export function statusForHttpCode(code: number): HealthStatus {
  if (code >= 200 && code <= 399) return 'passing';
  if (code === 429) return 'warning';
  return 'critical';
}

interface Answer {
  code: number;
  message: string;
  location: string | undefined;
  body: string;
}

function request(url: URL, def: CheckDefinition, signal: AbortSignal): Promise<Answer> {
  const client = url.protocol === 'https:' ? https : http;
  const headers: Record<string, string | string[]> = {
    'user-agent': USER_AGENT,
    accept: 'text/plain, text/*, */*',
    connection: 'close',
  };
  for (const [name, values] of Object.entries(def.header ?? {}))
    headers[name.toLowerCase()] = values;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: def.method ?? 'GET',
        headers,
        agent: false,
        signal,
        rejectUnauthorized: def.tlsSkipVerify !== true,
        ...(def.tlsServerName ? { servername: def.tlsServerName } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_OUTPUT_BYTES) chunks.push(chunk.subarray(0, MAX_OUTPUT_BYTES - size));
          size += chunk.length;
          // Enough output kept; stop reading a large or endless body.
          if (size >= MAX_OUTPUT_BYTES) res.destroy();
        });
        const done = () =>
          resolve({
            code: res.statusCode ?? 0,
            message: res.statusMessage ?? '',
            location: res.headers.location,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        res.once('end', done);
        res.once('close', done);
        res.once('error', done);
      },
    );
    req.once('error', reject);
    req.end(def.body ?? undefined);
  });
}

/** Run the check once; never throws. */
export async function probeHttp(
  def: CheckDefinition,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<ProbeResult> {
  const method = def.method ?? 'GET';
  const target = def.http ?? '';
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
  try {
    let url = new URL(target);
    let answer = await request(url, def, deadline);
    for (let hops = 0; def.disableRedirects !== true && hops < MAX_REDIRECTS; hops++) {
      if (answer.code < 300 || answer.code > 399 || answer.location === undefined) break;
      url = new URL(answer.location, url);
      answer = await request(url, def, deadline);
    }
    return {
      status: statusForHttpCode(answer.code),
      output: `HTTP ${method} ${target}: ${answer.code} ${answer.message} Output: ${answer.body}`,
    };
  } catch (err) {
    const reason =
      deadline.aborted && !signal.aborted
        ? `timed out after ${timeoutMs}ms`
        : (err as Error).message;
    return { status: 'critical', output: `HTTP ${method} ${target}: ${reason}` };
  }
}

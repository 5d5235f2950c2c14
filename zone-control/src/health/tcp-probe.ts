/**
 * One TCP health check run, as Consul's `CheckTCP` does it: passing when a connection is
 * established within the timeout (it is closed at once), critical otherwise.
 */
import net from 'node:net';
import type { ProbeResult } from './http-probe.ts';

/** Split `host:port` or `[v6]:port`. */
export function splitHostPort(addr: string): { host: string; port: number } {
  const m = /^\[(.+)\]:(\d+)$/.exec(addr) ?? /^([^:]+|.*:.*):(\d+)$/.exec(addr);
  return { host: m?.[1] ?? addr, port: Number(m?.[2] ?? NaN) };
}

/** Run the check once; never throws. */
export function probeTcp(
  addr: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<ProbeResult> {
  const prefix = `TCP connect ${addr}: `;
  const { host, port } = splitHostPort(addr);
  return new Promise((resolve) => {
    let settled = false;
    const socket = net.connect({ host, port });
    const finish = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = () => finish({ status: 'critical', output: `${prefix}check stopped` });
    const timer = setTimeout(
      () => finish({ status: 'critical', output: `${prefix}timed out after ${timeoutMs}ms` }),
      timeoutMs,
    );
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish({ status: 'passing', output: `${prefix}Success` }));
    socket.once('error', (err) =>
      finish({ status: 'critical', output: `${prefix}${err.message}` }),
    );
  });
}

/**
 * TCP to a healthy instance of a service (its sidecar's inbound mTLS port), with a connect
 * timeout, moving on to the next healthy instance when one cannot be reached: a
 * destination that died before its health turned critical costs the caller one timeout at
 * most per instance, not a failed call, as long as another instance answers.
 */
import net from 'node:net';
import type { Socket } from 'node:net';
import type { GatewayEndpoint } from '../../../core/index.ts';
import type { EndpointPicker } from './endpoint-picker.ts';

/** Instances tried per connection before giving up. */
export const MAX_DIAL_ATTEMPTS = 3;

export type DialResult =
  | { ok: true; socket: Socket; endpoint: GatewayEndpoint }
  | { ok: false; reason: 'no_healthy_endpoint' | 'connect_failure'; detail: string };

export async function dialEndpoint(
  picker: EndpointPicker,
  connectTimeoutMs: number,
): Promise<DialResult> {
  const tried = new Set<GatewayEndpoint>();
  let lastError = '';
  for (let attempt = 0; attempt < MAX_DIAL_ATTEMPTS; attempt++) {
    const endpoint = picker.pick(tried);
    if (endpoint === undefined) break;
    tried.add(endpoint);
    try {
      const socket = await connectTcp(endpoint.address, endpoint.port, connectTimeoutMs);
      return { ok: true, socket, endpoint };
    } catch (err) {
      lastError = `${endpoint.address}:${endpoint.port}: ${(err as Error).message}`;
    }
  }
  return tried.size === 0
    ? { ok: false, reason: 'no_healthy_endpoint', detail: 'no healthy endpoint' }
    : { ok: false, reason: 'connect_failure', detail: lastError };
}

/**
 * A connected socket (no delay, half-close allowed so either side may finish sending
 * first), or an error after `timeoutMs`.
 */
export function connectTcp(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, noDelay: true, allowHalfOpen: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect timeout after ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

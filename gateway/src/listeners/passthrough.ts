/**
 * Raw SNI passthrough: the connection's bytes, ClientHello first, go to a healthy instance
 * of the named service (its sidecar's inbound mTLS port) and back, untouched. The caller's
 * proxy and the destination's sidecar do their mutual TLS through the gateway.
 */
import type { Socket } from 'node:net';
import type { ListenerName } from '../metrics.ts';
import { dialEndpoint } from '../routing/dial-endpoint.ts';
import type { RoutedService } from '../routing/service-table.ts';
import { splice } from '../splice.ts';
import type { ListenerContext } from './listener-context.ts';

export async function passthrough(
  ctx: ListenerContext,
  listener: ListenerName,
  socket: Socket,
  head: Buffer,
  routed: RoutedService,
  connectTimeoutMs: number,
): Promise<void> {
  const { metrics, logger } = ctx;
  const service = `${routed.config.namespace}/${routed.config.service}`;
  const dialed = await dialEndpoint(routed.picker, connectTimeoutMs);
  if (!dialed.ok) {
    metrics.refuse(listener, dialed.reason);
    logger.info(
      { listener, service, reason: dialed.reason, detail: dialed.detail },
      'passthrough refused',
    );
    socket.destroy();
    return;
  }
  const upstream = dialed.socket;
  if (socket.destroyed) {
    upstream.destroy();
    return;
  }
  const labels = { listener, mode: 'passthrough' } as const;
  metrics.connections.inc(labels);
  metrics.activeConnections.inc(labels);
  ctx.relays.add(upstream);
  splice(socket, upstream, head, (result) => {
    metrics.activeConnections.dec(labels);
    metrics.bytes.inc({ ...labels, direction: 'received' }, result.aToB);
    metrics.bytes.inc({ ...labels, direction: 'sent' }, result.bToA);
    logger.debug(
      {
        listener,
        mode: 'passthrough',
        service,
        endpoint: dialed.endpoint.instanceId,
        bytesIn: result.aToB,
        bytesOut: result.bToA,
        ...(result.error ? { err: result.error.message } : {}),
      },
      'connection closed',
    );
  });
}

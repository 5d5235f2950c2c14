/**
 * Inbound TCP: splice an authorized mTLS connection to the local app, both directions,
 * half-close respected (a client that ends its side still reads the app's answer).
 */
import net from 'node:net';
import type { Socket } from 'node:net';
import type { Logger } from '../../../core/index.ts';
import type { PeerIdentity } from '../mesh-tls.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { INBOUND_LISTENER, LOCAL_APP_CLUSTER } from './local-app.ts';
import type { LocalApp } from './local-app.ts';

export function forwardTcp(
  socket: Socket,
  peer: PeerIdentity,
  app: LocalApp,
  metrics: ProxyMetrics,
  logger: Logger,
  accessLog: boolean,
): void {
  const started = performance.now();
  const upstream = net.connect({ host: app.address, port: app.port, noDelay: true });
  let connected = false;
  let finished = false;
  upstream.once('connect', () => (connected = true));
  const finish = (err?: NodeJS.ErrnoException): void => {
    if (finished) return;
    finished = true;
    const outcome = err && !connected ? 'error' : 'ok';
    const seconds = (performance.now() - started) / 1000;
    const labels = { direction: 'inbound', listener: INBOUND_LISTENER, cluster: LOCAL_APP_CLUSTER };
    metrics.requests.inc({ ...labels, code_class: outcome });
    metrics.requestDuration.observe(labels, seconds);
    if (accessLog) {
      logger.info(
        {
          source: peer.spiffeId,
          outcome,
          durationMs: Math.round(seconds * 1e4) / 10,
          bytesIn: socket.bytesRead,
          bytesOut: socket.bytesWritten,
          ...(err ? { err: err.code ?? err.message } : {}),
        },
        'inbound connection',
      );
    }
    socket.destroy();
    upstream.destroy();
  };
  // Two pipes rather than pipeline(socket, upstream, socket): each end closes the other's
  // write side (half-close), and the connection is done when the client's socket closes.
  // An app that fails or resets ends the client connection at once.
  socket.pipe(upstream);
  upstream.pipe(socket);
  socket.on('error', finish);
  upstream.on('error', finish);
  socket.once('close', () => finish());
  upstream.once('close', (hadError) => {
    if (hadError) finish();
  });
}

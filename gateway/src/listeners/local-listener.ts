/**
 * The local listener: this zone's proxies dial it (plain TCP carrying their own mTLS) to
 * reach other zones. The ClientHello's SNI `<svc>.<ns>.<zone>.<td>` decides:
 *
 * - another zone that is a peer: a CONNECT stream (`:authority` = the SNI name + `:443`)
 *   on a pooled tunnel to one of that zone's gateways, then the bytes both ways;
 * - our own zone: passthrough to a healthy local instance (no export check: the caller is
 *   in this zone);
 * - anything else: closed.
 */
import type { Socket } from 'node:net';
import { peekSni } from '../sni/peek-sni.ts';
import { parseMeshName } from '../sni/mesh-names.ts';
import { splice } from '../splice.ts';
import { TunnelError } from '../tunnel/tunnel-error.ts';
import type { RefusalReason } from '../metrics.ts';
import type { ListenerContext } from './listener-context.ts';
import { passthrough } from './passthrough.ts';

export async function handleLocal(ctx: ListenerContext, socket: Socket): Promise<void> {
  const { metrics, logger } = ctx;
  ctx.relays.add(socket);
  const refuse = (reason: RefusalReason, detail: string, code?: string): void => {
    metrics.refuse('local', reason);
    logger.info(
      { listener: 'local', reason, detail, ...(code !== undefined ? { code } : {}) },
      'connection refused',
    );
    socket.destroy();
  };
  const hello = await peekSni(socket, ctx.hello);
  if (!hello.ok) {
    if (hello.reason === 'closed') socket.destroy();
    else refuse(hello.reason, hello.detail);
    return;
  }
  const state = ctx.routing();
  if (state === undefined) return refuse('not_ready', 'no config yet');
  if (hello.sni === undefined) return refuse('no_sni', 'the ClientHello names no server');
  const name = parseMeshName(hello.sni, state.config.trustDomain);
  if (name?.kind !== 'destination') {
    return refuse(
      'unknown_name',
      `${hello.sni} is not <service>.<namespace>.<zone>.${state.config.trustDomain}`,
    );
  }
  if (name.zone === state.config.zone) {
    const routed = state.table.get(name.namespace, name.service);
    if (routed === undefined)
      return refuse('unknown_service', `no service ${name.namespace}/${name.service} here`);
    return passthrough(
      ctx,
      'local',
      socket,
      hello.data,
      routed,
      state.config.tunnels.connectTimeoutMs,
    );
  }
  if (!ctx.pool.has(name.zone)) return refuse('unknown_zone', `zone ${name.zone} is not a peer`);
  if (!ctx.tls.ready()) return refuse('not_ready', 'no gateway certificate yet');
  // The pool may try several gateways of the zone before one answers 200; until then
  // nothing of this connection goes anywhere (the peeked bytes are written by splice, and
  // the socket stays paused), so a retry cannot lose or repeat a byte of the inner TLS.
  let stream;
  try {
    stream = await ctx.pool.open(name.zone, `${hello.sni}:443`);
  } catch (err) {
    if (err instanceof TunnelError) return refuse(err.reason, err.message, err.code);
    return refuse('tunnel_failure', (err as Error).message);
  }
  if (socket.destroyed) {
    stream.destroy();
    return;
  }
  const labels = { listener: 'local', mode: 'tunnel' } as const;
  metrics.connections.inc(labels);
  metrics.activeConnections.inc(labels);
  splice(socket, stream, hello.data, (result) => {
    metrics.activeConnections.dec(labels);
    metrics.bytes.inc({ ...labels, direction: 'received' }, result.aToB);
    metrics.bytes.inc({ ...labels, direction: 'sent' }, result.bToA);
    logger.debug(
      {
        listener: 'local',
        mode: 'tunnel',
        destination: hello.sni,
        bytesIn: result.aToB,
        bytesOut: result.bToA,
        ...(result.error ? { err: result.error.message } : {}),
      },
      'connection closed',
    );
  });
}

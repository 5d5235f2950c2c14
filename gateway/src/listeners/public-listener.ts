/**
 * The public listener, which other zones reach. The ClientHello's SNI decides:
 *
 * - `gateway.<our zone>.<td>`: a peer gateway's tunnel. The bytes are put back and the
 *   socket goes to the {@link TunnelServer}, which terminates TLS with our gateway
 *   identity and serves the CONNECT streams;
 * - `<svc>.<ns>.<our zone>.<td>` of a service exported to at least one zone: raw SNI
 *   passthrough to a healthy instance (a remote proxy dialling us directly; its sidecar
 *   peer authorizes the caller end to end);
 * - anything else: closed.
 */
import type { Socket } from 'node:net';
import type { RefusalReason } from '../metrics.ts';
import { parseMeshName } from '../sni/mesh-names.ts';
import { peekSni } from '../sni/peek-sni.ts';
import type { ListenerContext } from './listener-context.ts';
import { passthrough } from './passthrough.ts';

export async function handlePublic(ctx: ListenerContext, socket: Socket): Promise<void> {
  const { metrics, logger } = ctx;
  ctx.relays.add(socket);
  const refuse = (reason: RefusalReason, detail: string): void => {
    metrics.refuse('public', reason);
    logger.info(
      { listener: 'public', reason, detail, remote: socket.remoteAddress },
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
  const { zone, trustDomain } = state.config;
  const name = parseMeshName(hello.sni, trustDomain);
  if (name === undefined || name.zone !== zone) {
    return refuse('unknown_name', `${hello.sni} is not a name of zone ${zone}`);
  }
  if (name.kind === 'gateway') {
    if (!ctx.tls.ready()) return refuse('not_ready', 'no gateway certificate yet');
    // Counted per CONNECT stream by the tunnel server, and as a session once accepted.
    socket.unshift(hello.data);
    ctx.tunnelServer.accept(socket);
    return;
  }
  const routed = state.table.route(name.namespace, name.service, undefined);
  if (routed === 'unknown_service' || routed === 'not_exported') {
    return refuse(routed, `${name.namespace}/${name.service}: ${routed.replace('_', ' ')}`);
  }
  return passthrough(
    ctx,
    'public',
    socket,
    hello.data,
    routed,
    state.config.tunnels.connectTimeoutMs,
  );
}

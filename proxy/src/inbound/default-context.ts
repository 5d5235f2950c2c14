/**
 * Keeping a TLS server's default context current without rebuilding it from PEMs.
 *
 * Why this exists: clients that send SNI get the current context from the server's
 * `SNICallback` (public API). Clients that send none (a client dialling an IP address,
 * HAProxy without `sni`) get the server's default context, and Node offers no public way
 * to install a `SecureContext` object there: `tls.createServer()` ignores a
 * `secureContext` option and `server.setSecureContext()` takes PEM options
 * (nodejs/node#46224, #23644). Both build their context into the server's
 * `_sharedCreds`, which every accepted socket reads (`tlsConnectionListener` in
 * lib/_tls_wrap.js, unchanged from Node 12 to 24), so we set it directly. The inbound
 * integration tests connect without SNI after a rotation and would catch a Node release
 * that moves it.
 */
import type { SecureContext, Server } from 'node:tls';

export function setDefaultSecureContext(server: Server, context: SecureContext): void {
  (server as unknown as { _sharedCreds: SecureContext })._sharedCreds = context;
}

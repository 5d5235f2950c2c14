/**
 * Reaches into `tls.Server` internals, kept in one place.
 *
 * {@link setDefaultSecureContext} keeps a TLS server's default context current without
 * rebuilding it from PEMs. Why: clients that send SNI get the current context from the server's
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

/**
 * Keep the session ticket keys our contexts were made with (see `TlsIdentity.update`).
 *
 * Why: under `cluster`, a `tls.Server` that listens on a shared handle sends its default
 * context's ticket keys to the primary and takes the first worker's keys back
 * (`_getServerData`/`_setServerData` in lib/_tls_wrap.js), once, at listen. Our contexts
 * are replaced on every identity update and carry the keys the primary hands out with
 * each identity, so that one-off copy would only overwrite a replacement worker's
 * current keys with stale ones.
 */
export function keepOwnTicketKeys(server: Server): void {
  (server as unknown as { _setServerData: (data: unknown) => void })._setServerData = () =>
    undefined;
}

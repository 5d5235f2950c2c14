/**
 * A stand-in for the destination's inbound proxy in tests of the outbound data path: an
 * mTLS server that checks clients with a real `TlsIdentity` (certificates from
 * `TestCa` in ./test-ca.ts).
 */
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import type { RequestListener, Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { normalizeSerial } from '../../core/index.ts';
import type { TlsIdentity } from '../../proxy/src/identity/tls-identity.ts';
import type { PeerIdentity } from '../../proxy/src/mesh-tls.ts';

export interface TerminatorOptions {
  identity: TlsIdentity;
  /** HTTP: requests are served by `app` on the decrypted connection. */
  app?: RequestListener;
  /** TCP (no `app`): the decrypted bytes are echoed back. */
}

/**
 * A minimal mTLS terminating server, standing in for the destination's inbound proxy: it
 * verifies the client like a mesh peer (chain by TLS, SPIFFE ID by `checkPeer`), counts
 * handshakes (full and resumed) and connections, and serves an HTTP app or echoes bytes.
 */
export class MtlsTerminator {
  handshakes = 0;
  resumed = 0;
  /** Client identities accepted, one per connection. */
  readonly peers: PeerIdentity[] = [];
  /** The client leaf's serial (as `serialOf` gives it), one per accepted connection. */
  readonly serials: string[] = [];
  readonly refusals: string[] = [];
  readonly tlsErrors: string[] = [];
  readonly #server: tls.Server;
  readonly #http: HttpServer | undefined;
  readonly #sockets = new Set<tls.TLSSocket>();

  private constructor(private readonly options: TerminatorOptions) {
    this.#server = tls.createServer({
      // Mesh clients always send SNI; the context is read per connection so updates apply.
      SNICallback: (_name, cb) => cb(null, options.identity.secureContext()),
      requestCert: true,
      rejectUnauthorized: true,
    });
    if (options.app) this.#http = createHttpServer({ keepAliveTimeout: 30_000 }, options.app);
    this.#server.on('secureConnection', (socket) => this.#accept(socket));
    this.#server.on('tlsClientError', (err) => this.tlsErrors.push(err.message));
  }

  static async start(options: TerminatorOptions): Promise<MtlsTerminator> {
    const t = new MtlsTerminator(options);
    t.#server.listen(0, '127.0.0.1');
    await once(t.#server, 'listening');
    return t;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Open (accepted) connections right now. */
  get connections(): number {
    return this.#sockets.size;
  }

  #accept(socket: tls.TLSSocket): void {
    socket.on('error', () => undefined);
    this.handshakes++;
    if (socket.isSessionReused()) this.resumed++;
    const peer = this.options.identity.checkPeer(socket);
    if (peer instanceof Error) {
      this.refusals.push(peer.message);
      socket.destroy();
      return;
    }
    this.peers.push(peer);
    this.serials.push(normalizeSerial(socket.getPeerCertificate().serialNumber));
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    if (this.#http) this.#http.emit('connection', socket);
    else socket.pipe(socket);
  }

  /** Cut every open connection (simulates a crash of the upstream). */
  dropConnections(): void {
    for (const s of this.#sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropConnections();
    if (this.#server.listening) {
      await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    }
  }
}

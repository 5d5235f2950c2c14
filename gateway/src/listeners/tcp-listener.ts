/**
 * A plain TCP listener for one of the gateway's ports. Sockets allow half-close (a
 * client's FIN must not cut the answer still coming back) and have Nagle off: the gateway
 * relays TLS records, and holding a small one back only adds latency.
 */
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { HostPort } from '../../../core/index.ts';

export class TcpListener {
  readonly #server: net.Server;

  constructor(
    readonly name: string,
    private readonly addr: HostPort,
    handler: (socket: Socket) => void,
  ) {
    this.#server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      socket.on('error', () => undefined);
      handler(socket);
    });
  }

  get listening(): boolean {
    return this.#server.listening;
  }

  async listen(): Promise<HostPort> {
    this.#server.listen(this.addr.port, this.addr.host);
    await once(this.#server, 'listening');
    return this.address();
  }

  address(): HostPort {
    const a = this.#server.address() as AddressInfo | null;
    return a ? { host: a.address, port: a.port } : this.addr;
  }

  /**
   * Stop accepting. Resolves once every connection it accepted has closed (the caller
   * drains or destroys them; see Relays).
   */
  close(): Promise<void> {
    if (!this.#server.listening) return Promise.resolve();
    return new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

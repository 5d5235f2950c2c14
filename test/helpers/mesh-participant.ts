/**
 * A mesh participant for tests: a stand-in for the proxy a later issue builds. It holds a
 * leaf from the zone CA (kept fresh by LeafRenewer), follows the trust bundle with a
 * blocking query, acknowledges every bundle version once it trusts it, and serves and
 * opens mutual TLS connections with whatever leaf and roots it holds at the time.
 *
 * The server echoes what it receives. Under TLS 1.3 a client whose certificate the server
 * refuses still sees `secureConnect` and then a silent close, so callers count a
 * connection as accepted only after an echo round trip ({@link echoRoundTrip}).
 */
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import {
  LeafRenewer,
  RevocationList,
  createCsr,
  generateKeyPair,
  parseSpiffeId,
  peerSpiffeId,
  privateKeyToPem,
  sleep,
  spiffeServerIdentityCheck,
} from '../../core/index.ts';
import { TEST_TRUST_DOMAIN, TEST_ZONE, workloadId } from './ca.ts';

export interface ParticipantLeaf {
  serial: string;
  rootId: string;
  keyPem: string;
  certificatePem: string;
  /** The leaf then its intermediate. */
  chainPem: string;
  notBefore: Date;
  notAfter: Date;
  /** When the CA signed it: the renewer counts the lifetime from here. */
  issuedAt: Date;
}

interface BundleBody {
  bundleVersion: number;
  activeRootId: string;
  roots: string[];
  revokedSerials: string[];
}

/** A peer connection refused by this participant (as a server, or as a client). */
export interface Refusal {
  as: 'server' | 'client';
  spiffeId: string | undefined;
  serial: string;
  reason: 'revoked' | 'identity';
}

/** The address of a participant's mTLS listener and the identity it must present. */
export interface PeerAddress {
  spiffeId: string;
  port: number;
}

export class MeshParticipant {
  readonly spiffeId: string;
  /** Every leaf installed, oldest first. */
  readonly leaves: ParticipantLeaf[] = [];
  /** Every bundle version acknowledged, in order. */
  readonly acked: number[] = [];
  readonly refusals: Refusal[] = [];
  /** Handshakes the server failed (`tlsClientError`), e.g. an untrusted client chain. */
  readonly serverTlsErrors: string[] = [];
  /** Failures of the bundle follower (an aborted request at close is not one). */
  readonly bundleErrors: string[] = [];
  #roots: string[] = [];
  #bundleVersion = 0;
  #activeRootId = '';
  #revoked = new RevocationList();
  #server: tls.Server | undefined;
  readonly #serverSockets = new Set<tls.TLSSocket>();
  readonly #stop = new AbortController();
  #renewer: LeafRenewer<ParticipantLeaf> | undefined;
  #renewing: { stop: AbortController; done: Promise<void> } | undefined;
  #following: Promise<void> | undefined;

  constructor(
    readonly zoneUrl: string,
    readonly service: string,
  ) {
    this.spiffeId = workloadId(service);
  }

  get leaf(): ParticipantLeaf {
    const leaf = this.leaves.at(-1);
    if (!leaf) throw new Error(`${this.service} has no leaf yet`);
    return leaf;
  }

  get roots(): readonly string[] {
    return this.#roots;
  }

  get bundleVersion(): number {
    return this.#bundleVersion;
  }

  get renewer(): LeafRenewer<ParticipantLeaf> {
    if (!this.#renewer) throw new Error(`${this.service} is not renewing`);
    return this.#renewer;
  }

  get port(): number {
    if (!this.#server) throw new Error(`${this.service} is not listening`);
    return (this.#server.address() as AddressInfo).port;
  }

  get address(): PeerAddress {
    return { spiffeId: this.spiffeId, port: this.port };
  }

  isRevoked(serial: string): boolean {
    return this.#revoked.isRevoked({ serialNumber: serial });
  }

  /** Fetch the bundle, get a leaf, listen on 127.0.0.1, acknowledge, then follow. */
  async start(): Promise<void> {
    const first = await this.#fetchBundle(0, this.#stop.signal);
    this.#applyBundle(first.body);
    await this.startRenewing();
    const server = tls.createServer({
      ...this.#secureContextOptions(),
      requestCert: true,
      rejectUnauthorized: true,
    });
    server.on('secureConnection', (socket) => this.#accept(socket));
    server.on('tlsClientError', (err) => this.serverTlsErrors.push(err.message));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.#server = server;
    await this.#ack(first.body.bundleVersion);
    this.#following = this.#follow(first.index, this.#stop.signal);
  }

  /** (Re)start the renewer; resolves once it has installed a fresh leaf. */
  async startRenewing(): Promise<void> {
    if (this.#renewing) throw new Error(`${this.service} is already renewing`);
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, this.#stop.signal]);
    const renewer = new LeafRenewer<ParticipantLeaf>({
      issue: () => this.#issue(signal),
      install: (leaf) => this.#installLeaf(leaf),
      retryMs: 200,
      maxRetryMs: 1000,
    });
    let ready!: () => void;
    const first = new Promise<void>((resolve) => (ready = resolve));
    this.#renewer = renewer;
    this.#renewing = { stop, done: renewer.run(signal, ready) };
    await Promise.race([
      first,
      this.#renewing.done.then(() => {
        throw new Error(`${this.service}: the renewer stopped before its first leaf`);
      }),
    ]);
  }

  /** Stop renewing and keep the current leaf; no leaf is installed after this resolves. */
  async stopRenewing(): Promise<void> {
    const renewing = this.#renewing;
    this.#renewing = undefined;
    renewing?.stop.abort();
    await renewing?.done;
  }

  /**
   * Open an mTLS connection to `peer` with the current leaf and roots. Resolves on
   * `secureConnect` after checking the server's SPIFFE ID and revocation; that does not
   * mean the server accepted this participant's certificate.
   */
  connect(peer: PeerAddress, timeoutMs = 5000): Promise<tls.TLSSocket> {
    const leaf = this.leaf;
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: peer.port,
        key: leaf.keyPem,
        cert: leaf.chainPem,
        ca: this.#roots,
        minVersion: 'TLSv1.3',
        checkServerIdentity: spiffeServerIdentityCheck(peer.spiffeId),
      });
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const onClose = () => fail(new Error('closed before the handshake completed'));
      const timer = setTimeout(
        () => fail(new Error(`TLS connect timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      socket.on('error', fail);
      socket.on('close', onClose);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        socket.off('close', onClose);
        // Keep a late error from becoming an uncaught exception; readers see the close.
        socket.on('error', () => undefined);
        const cert = socket.getPeerCertificate();
        if (this.#revoked.isRevoked(cert)) {
          this.refusals.push({
            as: 'client',
            spiffeId: peerSpiffeId(cert),
            serial: cert.serialNumber,
            reason: 'revoked',
          });
          socket.destroy();
          reject(new Error(`the server's leaf ${cert.serialNumber} is revoked`));
          return;
        }
        resolve(socket);
      });
    });
  }

  /** Stop following and renewing, close the listener and every accepted connection. */
  async close(): Promise<void> {
    this.#stop.abort();
    for (const socket of this.#serverSockets) socket.destroy();
    const server = this.#server;
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    await this.#renewing?.done;
    await this.#following;
  }

  #accept(socket: tls.TLSSocket): void {
    socket.on('error', () => undefined);
    const cert = socket.getPeerCertificate();
    const spiffeId = peerSpiffeId(cert);
    let reason: Refusal['reason'] | undefined;
    if (!this.#isMeshWorkload(spiffeId)) reason = 'identity';
    else if (this.#revoked.isRevoked(cert)) reason = 'revoked';
    if (reason) {
      this.refusals.push({ as: 'server', spiffeId, serial: cert.serialNumber, reason });
      socket.destroy();
      return;
    }
    this.#serverSockets.add(socket);
    socket.on('close', () => this.#serverSockets.delete(socket));
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
  }

  #isMeshWorkload(spiffeId: string | undefined): boolean {
    try {
      const id = parseSpiffeId(spiffeId);
      return (
        id.kind === 'workload' && id.trustDomain === TEST_TRUST_DOMAIN && id.zone === TEST_ZONE
      );
    } catch {
      return false;
    }
  }

  async #issue(signal: AbortSignal): Promise<ParticipantLeaf> {
    const keyPair = await generateKeyPair();
    const res = await fetch(`${this.zoneUrl}/api/ca/leaf`, {
      method: 'POST',
      body: JSON.stringify({
        spiffeId: this.spiffeId,
        csr: createCsr({ keyPair, spiffeId: this.spiffeId }),
      }),
      signal,
    });
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) {
      throw new Error(`POST /api/ca/leaf answered ${res.status}: ${JSON.stringify(body)}`);
    }
    const certificatePem = body.certificatePem as string;
    return {
      serial: body.serial as string,
      rootId: body.rootId as string,
      keyPem: privateKeyToPem(keyPair.privateKey),
      certificatePem,
      chainPem: body.chainPem as string,
      notBefore: new Date(body.notBefore as string),
      notAfter: new Date(new X509Certificate(certificatePem).validTo),
      issuedAt: new Date(body.issuedAt as string),
    };
  }

  #installLeaf(leaf: ParticipantLeaf): void {
    this.leaves.push(leaf);
    this.#server?.setSecureContext(this.#secureContextOptions());
  }

  #secureContextOptions(): tls.SecureContextOptions {
    const leaf = this.leaves.at(-1);
    return {
      ...(leaf ? { key: leaf.keyPem, cert: leaf.chainPem } : {}),
      ca: this.#roots,
      minVersion: 'TLSv1.3',
    };
  }

  async #fetchBundle(
    index: number,
    signal: AbortSignal,
  ): Promise<{ body: BundleBody; index: number }> {
    const query = index > 0 ? `?index=${index}&wait=10s` : '';
    const res = await fetch(`${this.zoneUrl}/api/ca/bundle${query}`, { signal });
    if (res.status !== 200) {
      throw new Error(`GET /api/ca/bundle answered ${res.status}: ${await res.text()}`);
    }
    return {
      body: (await res.json()) as BundleBody,
      index: Number(res.headers.get('x-consul-index') ?? 0),
    };
  }

  /** Install a bundle: roots into the client options and the server context, revocations. */
  #applyBundle(body: BundleBody): void {
    this.#revoked = new RevocationList(body.revokedSerials);
    if (body.bundleVersion !== this.#bundleVersion) {
      this.#roots = body.roots;
      this.#bundleVersion = body.bundleVersion;
      this.#server?.setSecureContext(this.#secureContextOptions());
    }
    const rootChanged = this.#activeRootId !== '' && body.activeRootId !== this.#activeRootId;
    this.#activeRootId = body.activeRootId;
    // Signing moved to a new root: get a leaf under it now rather than at 80% of the old one.
    if (rootChanged) this.#renewer?.renewNow();
  }

  async #ack(bundleVersion: number): Promise<void> {
    const res = await fetch(`${this.zoneUrl}/api/ca/ack`, {
      method: 'PUT',
      body: JSON.stringify({ participant: this.spiffeId, bundleVersion }),
      signal: this.#stop.signal,
    });
    if (res.status !== 200) {
      throw new Error(`PUT /api/ca/ack answered ${res.status}: ${await res.text()}`);
    }
    await res.body?.cancel();
    this.acked.push(bundleVersion);
  }

  async #follow(fromIndex: number, signal: AbortSignal): Promise<void> {
    let index = fromIndex;
    while (!signal.aborted) {
      try {
        const next = await this.#fetchBundle(index, signal);
        this.#applyBundle(next.body);
        if (this.acked.at(-1) !== next.body.bundleVersion) await this.#ack(next.body.bundleVersion);
        // Move on only once acknowledged, so a failed ack is retried without waiting for
        // the next change. An index that goes backwards means the store was reset: start
        // over (Consul's rule).
        index = next.index < index ? 0 : next.index;
      } catch (err) {
        if (signal.aborted) return;
        this.bundleErrors.push(String(err));
        await sleep(200, signal);
      }
    }
  }
}

/**
 * Write `message` and wait until the same bytes come back. Fails if the connection closes
 * or errs first, or after `timeoutMs`. One round trip at a time per socket.
 */
export function echoRoundTrip(
  socket: tls.TLSSocket,
  message: string,
  timeoutMs = 2000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = '';
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onData = (chunk: Buffer) => {
      received += chunk.toString('utf8');
      if (received.length >= message.length) {
        done(
          received === message
            ? undefined
            : new Error(`echo mismatch: ${JSON.stringify(received)}`),
        );
      }
    };
    const onClose = () => done(new Error('the connection closed before the echo came back'));
    const onError = (err: Error) => done(err);
    const timer = setTimeout(() => done(new Error(`no echo within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onError);
    if (socket.destroyed) onClose();
    else socket.write(message);
  });
}

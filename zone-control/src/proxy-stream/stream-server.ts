/**
 * The proxy config stream's server: WebSocket over TLS on the zone's `--xds-addr`. The
 * zone serves its own control identity (a leaf from its CA, renewed like any other) so
 * proxies can verify whom they talk to with the trust bundle. Clients authenticate at the
 * upgrade with `Authorization: Bearer <token>`; a missing or unknown token is refused
 * with 401 before any frame is read.
 */
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import {
  LeafRenewer,
  createCsr,
  generateKeyPair,
  privateKeyToPem,
  trustBundlePems,
  untilAborted,
} from '../../../core/index.ts';
import type { Component, HostPort, Logger, Store } from '../../../core/index.ts';
import { MAX_FRAME_BYTES } from '../../../core/src/proxy-stream/messages.ts';
import type { TtlUpdater } from '../agent/agent-routes.ts';
import type { Authorizer } from '../acl/authorizer.ts';
import type { ZoneCa } from '../ca/zone-ca.ts';
import { ProxyRegistrar, sessionKey } from './proxy-registrar.ts';
import { ProxySession } from './proxy-session.ts';
import type { ProxyStatus, SessionHost } from './proxy-session.ts';
import { SnapshotCache } from './snapshot-cache.ts';
import { SnapshotInputSource } from './snapshot-inputs.ts';

export interface ProxyStreamOptions {
  addr: HostPort;
  store: Store;
  ca: ZoneCa;
  /** Renews and fails the proxies' TTL checks (the zone's health check runner). */
  checks: TtlUpdater;
  authorizeToken: (secret: string) => Promise<Authorizer>;
  logger: Logger;
  /** Without ACLs (`--dev`) a proxy may connect without a token. @default true */
  requireToken?: boolean;
  /** The zone's name. */
  zone: string;
  /** A proxy gone this long (its stream check critical) is deregistered. @default 60_000 */
  deregisterAfterMs?: number;
  /** TTL of the stream check; the session renews it every third. @default 30_000 */
  checkTtlMs?: number;
  /** Quiet time after a catalog or config entry change before snapshots are rebuilt. @default 50 */
  debounceMs?: number;
  /**
   * Quiet time after zone sync stored another zone's change (already debounced by that
   * zone and by global; see `snapshot-inputs.ts`), at most `debounceMs`. @default 5
   */
  syncDebounceMs?: number;
}

export class ProxyStreamServer implements Component, SessionHost {
  readonly name = 'proxy-stream';
  readonly #server = https.createServer({ minVersion: 'TLSv1.2' });
  readonly #wss: WebSocketServer;
  /** By `sessionKey`; a disconnected proxy's is dropped `deregisterAfterMs` after it left. */
  readonly #statuses = new Map<string, ProxyStatus>();
  /** The current stream of each connected instance, by `sessionKey`. */
  readonly #sessions = new Map<string, ProxySession>();
  #bound!: () => void;
  readonly #ready = new Promise<void>((resolve) => (this.#bound = resolve));
  #key = '';
  #cert = '';
  #stopping = false;
  readonly ca: ZoneCa;
  readonly logger: Logger;
  readonly registrar: ProxyRegistrar;
  readonly inputs: SnapshotInputSource;
  readonly snapshots = new SnapshotCache();
  private readonly addr: HostPort;
  private readonly authorizeToken: (secret: string) => Promise<Authorizer>;
  private readonly requireToken: boolean;
  private readonly deregisterAfterMs: number;

  constructor(options: ProxyStreamOptions) {
    this.addr = options.addr;
    this.ca = options.ca;
    this.logger = options.logger;
    this.authorizeToken = options.authorizeToken;
    this.requireToken = options.requireToken ?? true;
    this.deregisterAfterMs = options.deregisterAfterMs ?? 60_000;
    this.registrar = new ProxyRegistrar(
      options.store,
      options.checks,
      {
        zone: options.zone,
        deregisterAfterMs: this.deregisterAfterMs,
        checkTtlMs: options.checkTtlMs ?? 30_000,
      },
      this.logger,
    );
    this.inputs = new SnapshotInputSource(
      options.store,
      options.zone,
      () => this.ca.state.trustDomain,
      this.logger,
      options.debounceMs ?? 50,
      options.syncDebounceMs ?? 5,
    );
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
    this.#server.on('upgrade', (req, socket, head) => {
      void this.#authenticate(req).then(
        ({ authz, secret }) =>
          this.#wss.handleUpgrade(req, socket, head, (ws) => {
            // The session resolves the same secret again before signing renewals and on
            // its heartbeat: a token deleted (or expired) since the upgrade loses its stream.
            new ProxySession(ws, authz, this, () => this.authorizeToken(secret));
          }),
        (err: Error) => {
          socket.end(
            `HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${err.message}\n`,
          );
        },
      );
    });
    this.#server.on('request', (_req, res) => {
      res
        .writeHead(426, { 'Content-Type': 'text/plain' })
        .end('this port speaks the proxy config stream (WebSocket) only\n');
    });
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  address(): HostPort {
    const a = this.#server.address() as AddressInfo | null;
    return a ? { host: a.address, port: a.port } : this.addr;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /**
   * Show `status` for its proxy. Kept as given, not copied: a session publishes on every
   * push and every ACK (two thousand times per change with a thousand proxies), and
   * {@link statuses} copies when the API reads them.
   */
  publish(status: ProxyStatus): void {
    const key = sessionKey(status);
    // Only a new key can grow the map, so only then is it worth a pass over every entry.
    const added = !this.#statuses.has(key);
    this.#statuses.set(key, status);
    if (added) this.#pruneStatuses();
  }

  claim(session: ProxySession, key: string): void {
    const previous = this.#sessions.get(key);
    this.#sessions.set(key, session);
    if (previous !== undefined && previous !== session) previous.replace();
  }

  isCurrent(session: ProxySession, key: string): boolean {
    return this.#sessions.get(key) === session;
  }

  claimed(key: string): boolean {
    return this.#sessions.has(key);
  }

  release(session: ProxySession, key: string): void {
    if (this.#sessions.get(key) === session) this.#sessions.delete(key);
  }

  /**
   * Forget proxies that have been gone for `deregisterAfterMs`: the catalog has reaped
   * their instances by then, and every proxy restart (a fresh default instance ID) would
   * otherwise add an entry for the life of the process.
   */
  #pruneStatuses(now = Date.now()): void {
    for (const [key, status] of this.#statuses) {
      if (status.connected || status.disconnectedAt === undefined) continue;
      if (now - Date.parse(status.disconnectedAt) >= this.deregisterAfterMs) {
        this.#statuses.delete(key);
      }
    }
  }

  /** Rebuild every connected proxy's snapshot; each is pushed only if it changed. */
  async refreshAll(): Promise<void> {
    await Promise.all([...this.#sessions.values()].map((s) => s.refreshConfig()));
  }

  async #sweep(): Promise<void> {
    if (this.#stopping) return;
    try {
      await this.registrar.sweepEmptyNodes((await this.inputs.current()).catalog);
    } catch (err) {
      this.logger.warn({ err: String(err) }, 'removing empty proxy nodes failed');
    }
  }

  /**
   * What the zone API shows: every proxy connected now or gone for less than
   * `deregisterAfterMs`.
   */
  statuses(): ProxyStatus[] {
    this.#pruneStatuses();
    return [...this.#statuses.values()]
      .map((status) => ({ ...status, acked: { ...status.acked } }))
      .sort((a, b) => a.instanceId.localeCompare(b.instanceId) || a.node.localeCompare(b.node));
  }

  async start(signal: AbortSignal): Promise<void> {
    await this.ca.ready();
    const renewer = new LeafRenewer({
      issue: async () => {
        const keyPair = await generateKeyPair();
        const spiffeId = this.ca.controlSpiffeId;
        const leaf = await this.ca.sign(createCsr({ keyPair, spiffeId }), spiffeId);
        return { ...leaf, keyPem: privateKeyToPem(keyPair.privateKey) };
      },
      install: (leaf) => {
        this.#key = leaf.keyPem;
        this.#cert = leaf.chainPem;
        this.#applyContext();
      },
      logger: this.logger,
    });
    const stopRenewal = new AbortController();
    let firstLeaf!: () => void;
    const issued = new Promise<void>((resolve) => (firstLeaf = resolve));
    const renewing = renewer.run(AbortSignal.any([signal, stopRenewal.signal]), firstLeaf);
    const unsubscribe = this.ca.onBundleChange(() => {
      renewer.renewNow();
      this.#applyContext();
    });
    await Promise.race([issued, renewing]);
    const watching = this.inputs.run(AbortSignal.any([signal, stopRenewal.signal]), () => {
      void this.refreshAll();
      void this.#sweep();
    });
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.addr.port, this.addr.host, () => {
        const a = this.address();
        this.logger.info({ addr: `${a.host}:${a.port}` }, 'proxy config stream listening');
        resolve();
      });
    });
    this.#bound();
    await untilAborted(signal);
    this.#stopping = true;
    unsubscribe();
    stopRenewal.abort();
    for (const ws of this.#wss.clients) ws.close(1001, 'zone stopping');
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    await Promise.all([renewing, watching]);
  }

  #applyContext(): void {
    if (!this.#key) return;
    this.#server.setSecureContext({
      key: this.#key,
      cert: this.#cert,
      ca: trustBundlePems(this.ca.state),
    });
  }

  async #authenticate(req: IncomingMessage): Promise<{ authz: Authorizer; secret: string }> {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) {
      if (!this.requireToken) return { authz: await this.authorizeToken(''), secret: '' };
      throw new Error('a dataplane token is required: Authorization: Bearer <token>');
    }
    try {
      return { authz: await this.authorizeToken(match[1]), secret: match[1] };
    } catch {
      throw new Error('the token is not valid');
    }
  }
}

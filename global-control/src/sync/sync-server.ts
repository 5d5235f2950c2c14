/**
 * The zone sync server: WebSocket over TLS on the global's `--sync-addr`. Zones dial it,
 * so a zone behind NAT needs no inbound port.
 *
 * Authentication happens at the upgrade, before any frame is read:
 * - a zone that already has its intermediate presents its control identity
 *   (`spiffe://<td>/zone/<zone>/control`) as a TLS client certificate, verified against
 *   the root and the zone-scope rules of `verifyLeafChain`;
 * - otherwise `Authorization: Bearer <zone token>` (its first connection, or a zone
 *   that lost its store).
 * Either way the zone must exist and be enabled. Refusals answer 401 or 403 with the
 * reason in the body, so `causeway run zone` can log why it cannot join.
 *
 * One session per zone: a newer connection replaces the older one, and the older is
 * closed with {@link CLOSE_REPLACED} (a zone that reconnects before global noticed the
 * old connection die must not be refused).
 *
 * The server follows the store for every session: other zones' resources ({@link MeshIndex}),
 * global KV ({@link GlobalKvIndex}) and global policies ({@link GlobalPolicyIndex}); a
 * change there reaches each session's outbox.
 */
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket, DetailedPeerCertificate } from 'node:tls';
import { WebSocketServer } from 'ws';
import {
  CLOSE_SHUTDOWN,
  CLOSE_ZONE_DISABLED,
  DEFAULT_GLOBAL_KV_PREFIXES,
  MAX_SYNC_FRAME_BYTES,
  PeerMemory,
  PermissionDeniedError,
  normalizeSerial,
  untilAborted,
  verifyLeafChain,
} from '../../../core/index.ts';
import type {
  Component,
  HostPort,
  Logger,
  Store,
  SyncStatusSource,
  TxnOp,
  ZoneSyncStatus,
} from '../../../core/index.ts';
import { GlobalKv } from '../kv/global-kv.ts';
import { GlobalKvIndex } from '../kv/kv-index.ts';
import { GlobalPolicyIndex } from '../policies/policy-index.ts';
import { ZoneNotAllowedError } from '../zones/zone-registry.ts';
import { MeshIndex } from './mesh-index.ts';
import { ZoneSession } from './zone-session.ts';

/** What the sync server needs from the global CA. */
export interface SyncCa {
  readonly trustDomain: string;
  rootPem(): string;
  /** Sign the zone's intermediate from its CSR (for `…/zone/<zone>/control`). */
  signZoneIntermediate(zone: string, csrPem: string): Promise<{ certificatePem: string }>;
  /**
   * The zone intermediates issued to `zone` (serial and issue time), to renew only the
   * newest. Without it, global refuses every `renew`.
   */
  intermediates?(zone: string): Promise<{ serial: string; issuedAt: string }[]>;
  /** The global's own TLS identity (`spiffe://<td>/global`), chain PEM and key PEM. */
  serverIdentity(): Promise<{ certificatePem: string; privateKeyPem: string }>;
}

/** What the sync server needs from the zone registry. */
export interface SyncRegistry {
  /** @throws with a message saying why the token is refused. */
  verifyToken(token: string): Promise<{ zone: string }>;
  /** The zone's record, or undefined when it does not exist. */
  get(zone: string): Promise<{ enabled: boolean; createdAt: string } | undefined>;
  /** Every registered zone's name. */
  names(): Promise<string[]>;
  /** Called when any zone record changes (created, disabled, deleted). */
  onChange(listener: () => void): () => void;
  /**
   * Store checks every write of the zone's synced resources carries: the zone's record is
   * unchanged since read, so nothing lands after the zone was deleted. @throws when the
   * zone no longer exists.
   */
  syncGuard?(zone: string): Promise<TxnOp[]>;
}

export interface SyncServerOptions {
  addr: HostPort;
  store: Store;
  ca: SyncCa;
  registry: SyncRegistry;
  logger: Logger;
  /**
   * Global KV: zones receive its entries and forward their writes to it (the HTTP API
   * writes through the same one). @default global KV under `global/` in `store`
   */
  kv?: GlobalKv;
  /** @default 5000 */
  heartbeatMs?: number;
  /** How often the server re-reads its TLS identity (it renews itself). @default 60000 */
  identityRefreshMs?: number;
}

export interface Authenticated {
  zone: string;
  auth: 'token' | 'mtls';
  /**
   * With `mtls`: the serial (lowercase hex, no leading zeros) of the zone intermediate in
   * the client's chain — a `renew` is granted only for the newest one.
   */
  intermediateSerial?: string;
}

export class SyncServer implements Component, SyncStatusSource {
  readonly name = 'zone-sync';
  readonly #server = https.createServer({
    minVersion: 'TLSv1.2',
    // A first connection has no certificate yet (it brings a token): ask, never require.
    requestCert: true,
    rejectUnauthorized: false,
  });
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: MAX_SYNC_FRAME_BYTES });
  readonly #sessions = new Map<string, ZoneSession>();
  readonly #statuses = new Map<string, ZoneSyncStatus>();
  /** What each zone has acknowledged, across its connections. */
  readonly #memories = new Map<string, PeerMemory>();
  readonly mesh: MeshIndex;
  readonly kv: GlobalKv;
  readonly kvIndex: GlobalKvIndex;
  readonly policyIndex: GlobalPolicyIndex;
  readonly heartbeatMs: number;
  #bound!: () => void;
  readonly #ready = new Promise<void>((resolve) => (this.#bound = resolve));
  #identityPem = '';

  constructor(readonly options: SyncServerOptions) {
    this.heartbeatMs = options.heartbeatMs ?? 5000;
    this.mesh = new MeshIndex(options.store, options.logger);
    this.kv = options.kv ?? new GlobalKv(options.store, DEFAULT_GLOBAL_KV_PREFIXES);
    this.kvIndex = new GlobalKvIndex(options.store, this.kv.scopes, options.logger);
    this.policyIndex = new GlobalPolicyIndex(options.store, options.logger);
    this.#server.on('upgrade', (req: IncomingMessage, socket, head) => {
      this.#authenticate(req).then(
        (who) =>
          this.#wss.handleUpgrade(req, socket, head, (ws) => {
            const previous = this.#sessions.get(who.zone);
            const session = new ZoneSession(ws, who, this);
            this.#sessions.set(who.zone, session);
            previous?.replace();
          }),
        (err: Error) => {
          const status =
            err instanceof PermissionDeniedError ? '403 Forbidden' : '401 Unauthorized';
          this.options.logger.warn({ reason: err.message }, 'refused a zone sync connection');
          socket.end(
            `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${err.message}\n`,
          );
        },
      );
    });
    this.#server.on('request', (_req, res) => {
      res
        .writeHead(426, { 'Content-Type': 'text/plain' })
        .end('this port speaks zone sync (WebSocket) only\n');
    });
  }

  get logger(): Logger {
    return this.options.logger;
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  address(): HostPort {
    const a = this.#server.address() as AddressInfo | null;
    return a ? { host: a.address, port: a.port } : this.options.addr;
  }

  status(zone: string): ZoneSyncStatus | undefined {
    const session = this.#sessions.get(zone);
    const status = this.#statuses.get(zone);
    if (!status) return undefined;
    return session ? { ...status, ...session.liveStatus() } : status;
  }

  /** @internal for sessions */
  memory(zone: string): PeerMemory {
    let memory = this.#memories.get(zone);
    if (!memory) {
      memory = new PeerMemory();
      this.#memories.set(zone, memory);
    }
    return memory;
  }

  /** @internal for sessions */
  publish(zone: string, status: ZoneSyncStatus): void {
    this.#statuses.set(zone, status);
  }

  /** @internal for sessions: the session ended; forget it unless a newer one took over. */
  release(session: ZoneSession): void {
    if (this.#sessions.get(session.zone) === session) this.#sessions.delete(session.zone);
  }

  async start(signal: AbortSignal): Promise<void> {
    await this.#refreshIdentity();
    const refresh = setInterval(() => {
      this.#refreshIdentity().catch((err: unknown) =>
        this.logger.warn({ err: String(err) }, 'refreshing the sync server identity failed'),
      );
    }, this.options.identityRefreshMs ?? 60_000);
    refresh.unref();
    const indexing = this.mesh.run(signal);
    const unsubscribeMesh = this.mesh.onChange(() => {
      for (const session of this.#sessions.values()) session.meshChanged();
    });
    const kvIndexing = this.kvIndex.run(signal);
    const unsubscribeKv = this.kvIndex.onChange(() => {
      for (const session of this.#sessions.values()) session.kvChanged();
    });
    const policyIndexing = this.policyIndex.run(signal);
    const unsubscribePolicies = this.policyIndex.onChange(() => {
      for (const session of this.#sessions.values()) session.policiesChanged();
    });
    const unsubscribeZones = this.options.registry.onChange(() => void this.#recheckZones());
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.options.addr.port, this.options.addr.host, () => {
        const a = this.address();
        this.logger.info({ addr: `${a.host}:${a.port}` }, 'zone sync listening');
        resolve();
      });
    });
    this.#bound();
    await untilAborted(signal);
    clearInterval(refresh);
    unsubscribeMesh();
    unsubscribeKv();
    unsubscribePolicies();
    unsubscribeZones();
    for (const session of this.#sessions.values()) session.close(CLOSE_SHUTDOWN, 'global stopping');
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    await Promise.all([indexing, kvIndexing, policyIndexing]);
  }

  /** Close the sessions of zones that were disabled or deleted. */
  async #recheckZones(): Promise<void> {
    for (const [zone, session] of this.#sessions) {
      try {
        const record = await this.options.registry.get(zone);
        if (!record) session.close(CLOSE_ZONE_DISABLED, `zone ${zone} was deleted`);
        else if (!record.enabled) session.close(CLOSE_ZONE_DISABLED, `zone ${zone} is disabled`);
      } catch (err) {
        this.logger.warn({ err: String(err), zone }, 'checking a zone record failed');
      }
    }
  }

  async #refreshIdentity(): Promise<void> {
    const identity = await this.options.ca.serverIdentity();
    if (identity.certificatePem === this.#identityPem) return;
    this.#identityPem = identity.certificatePem;
    this.#server.setSecureContext({
      key: identity.privateKeyPem,
      // The root goes along so a zone holding only its pin can find and check it.
      cert: identity.certificatePem + this.options.ca.rootPem(),
      ca: [this.options.ca.rootPem()],
    });
  }

  async #authenticate(req: IncomingMessage): Promise<Authenticated> {
    const socket = req.socket as TLSSocket;
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    let who: Authenticated;
    let intermediateFrom: number | undefined;
    if (socket.authorized) {
      const client = this.#clientCertificate(socket);
      who = { zone: client.zone, auth: 'mtls', intermediateSerial: client.intermediateSerial };
      intermediateFrom = client.intermediateIssuedAt;
    } else if (match?.[1]) {
      try {
        who = { zone: (await this.options.registry.verifyToken(match[1])).zone, auth: 'token' };
      } catch (err) {
        // A genuine token of a zone that may not connect: 403 (below). Any other refusal
        // means the token does not prove who the caller is: 401, whatever the reason.
        if (err instanceof ZoneNotAllowedError) throw err;
        throw new Error(err instanceof Error ? err.message : String(err), { cause: err });
      }
    } else {
      throw new Error(
        'a zone must authenticate: a zone token (Authorization: Bearer <token>) on its first connection, its control identity (mutual TLS) after that',
      );
    }
    const record = await this.options.registry.get(who.zone);
    if (!record) throw new PermissionDeniedError(`zone ${who.zone} does not exist`);
    if (!record.enabled) throw new PermissionDeniedError(`zone ${who.zone} is disabled`);
    // An intermediate signed before the zone record was created belongs to a zone of that
    // name that was deleted: it must join again with a token of the new one. (notBefore is
    // backdated a minute; allow that and some clock skew.)
    if (
      intermediateFrom !== undefined &&
      intermediateFrom + 2 * 60_000 < Date.parse(record.createdAt)
    ) {
      throw new PermissionDeniedError(
        `this identity of zone ${who.zone} predates the zone's creation at ${record.createdAt}: join again with a zone token`,
      );
    }
    return who;
  }

  #clientCertificate(socket: TLSSocket): {
    zone: string;
    intermediateIssuedAt: number;
    intermediateSerial: string;
  } {
    const chain: string[] = [];
    let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
    const seen = new Set<string>();
    while (cert?.raw && !seen.has(cert.fingerprint256)) {
      seen.add(cert.fingerprint256);
      const x509 = new X509Certificate(cert.raw);
      if (x509.issuer === x509.subject) break; // the root: the bundle supplies it
      chain.push(x509.toString());
      cert = cert.issuerCertificate;
    }
    const verified = verifyLeafChain(chain, [this.options.ca.rootPem()]);
    if (verified.id.kind !== 'control') {
      throw new PermissionDeniedError(`${verified.spiffeId} is not a zone control plane identity`);
    }
    const intermediate = new X509Certificate(chain[1] as string);
    return {
      zone: verified.id.zone,
      intermediateIssuedAt: Date.parse(intermediate.validFrom),
      intermediateSerial: normalizeSerial(intermediate.serialNumber),
    };
  }
}

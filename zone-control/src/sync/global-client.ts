/**
 * The zone's side of zone sync: dials the global control plane (so a zone behind NAT
 * needs no inbound port), keeps the connection up with backoff, and runs both
 * directions — the zone's instances, gateways and exports out, other zones' exported
 * services and gateways (and later global KV and policies) in, into `sync/global/…`.
 *
 * First connection: the root comes from the pin in the zone token (see `root-pin.ts`),
 * the token authenticates the upgrade, and the hello carries a CSR for the zone's
 * intermediate; the welcome brings it back signed and the zone installs its CA state.
 * After that: mutual TLS with the zone's control identity, no token.
 *
 * With global unreachable the zone keeps serving from what it stored: its own catalog,
 * KV and CA are local, and the remote resources stay as last received. A reconnect
 * resumes from the revisions both sides recorded, so nothing is resent or removed that
 * did not change.
 *
 * Global KV: the welcome names the global prefixes (kept at `sync/kv-scopes`, so they
 * are known after a restart with global down); `kv` resources are mirrored to `kv/<key>`
 * (see `kv-projection.ts`); writes of global keys made at this zone go to global as
 * `kv-write` frames (see `kv-write-forwarder.ts`). The client is the KV endpoints'
 * {@link GlobalKv}.
 *
 * Renewal: after each welcome and then every hour, a zone whose intermediate has less than
 * a third of its life left sends `renew` with a CSR from a new key, and installs what
 * global signs (`ZoneCa.renewFederatedIntermediate`); the next connection's control
 * identity chains to it.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type https from 'node:https';
import { WebSocket } from 'ws';
import type { ClientOptions } from 'ws';
import {
  CA_REVOKED_PREFIX,
  CLOSE_PROTOCOL,
  ConfigError,
  MAX_SYNC_FRAME_BYTES,
  PeerMemory,
  ResourceInbox,
  ResourceOutbox,
  SYNC_PROTOCOL_VERSION,
  SyncChannel,
  createCsr,
  createFederatedCaState,
  decodeGlobalFrame,
  decodeZoneToken,
  generateKeyPair,
  globalResourcePrefix,
  globalServerIdentityCheck,
  isCausewayError,
  KvScopes,
  globalResourceValidators as baseValidators,
  privateKeyToPem,
  sleep,
  trustBundlePems,
} from '../../../core/index.ts';
import type {
  Component,
  GlobalResourceType,
  GlobalToZone,
  GlobalWelcome,
  KeyPair,
  KeySealer,
  KvWriteOp,
  KvWrittenMessage,
  Logger,
  ResourceType,
  Store,
  ZoneResourceType,
  ZoneToGlobal,
} from '../../../core/index.ts';
import type { ZoneCa } from '../ca/zone-ca.ts';
import type { ReadContact } from '../http/blocking.ts';
import type { GlobalKv } from '../kv/global-kv.ts';
import { policyProjection } from '../config/global-policies.ts';
import { kvProjection, removeStrayKeys, scopedKvValidator } from './kv-projection.ts';
import {
  loadKvScopes,
  loadLastContact,
  saveKvScopes,
  saveLastContact,
} from './kv-scopes-record.ts';
import { KvWriteForwarder } from './kv-write-forwarder.ts';
import { revocationProjection } from './revocation-projection.ts';
import { fetchPinnedRoot } from './root-pin.ts';
import { readZoneExports, readZoneResources, readZoneRevocations } from './zone-resources.ts';
import type { ZoneResources } from './zone-resources.ts';

export const CAUSEWAY_VERSION = '0.1.0';

/** How often a connected zone records its last contact with global (see below). */
const CONTACT_RECORD_MS = 10_000;

/** Where the zone records the revision of each global resource type it applied. */
export const globalRevisionKey = (type: ResourceType): string => `sync/rev/global/${type}`;

export interface GlobalClientOptions {
  /** `wss://host:port` of the global's sync listener. */
  globalAddr: string;
  /** Needed until the zone has its intermediate. */
  zoneToken: string | undefined;
  /** The global root, when the operator gives it instead of trusting the token's pin. */
  globalCaPem?: string;
  zone: string;
  trustDomain: string;
  store: Store;
  ca: ZoneCa;
  sealer: KeySealer;
  logger: Logger;
  /** How many proxies are connected, for the insight record. */
  proxies: () => number;
  /**
   * Quiet time after a catalog or config change before it is sent. Short: the catalog
   * writes of one registration land together, and every ms here is a ms before other
   * zones' proxies hear of the change (bench:sync). @default 10
   */
  debounceMs?: number;
  /** @default 500 */
  minBackoffMs?: number;
  /** @default 15000 */
  maxBackoffMs?: number;
  /** How long a forwarded KV write waits for global's answer. @default 10000 */
  kvWriteTimeoutMs?: number;
  /** How often a connected zone checks whether its intermediate is due for renewal. @default 1 hour */
  renewCheckMs?: number;
  /** Renew once less than this fraction of the intermediate's life is left. @default 1/3 */
  renewBelow?: number;
}

export interface GlobalSyncStatus {
  globalAddr: string;
  connected: boolean;
  /** When the current connection (or the last one) was established. */
  connectedAt?: string;
  disconnectedAt?: string;
  lastError?: string;
  /** When a delta from global was last applied. */
  lastAppliedAt?: string;
  /** When the zone last received any frame from global (its replica's age). */
  lastContactAt?: string;
  /** The global KV prefixes global named in its last welcome. */
  kvGlobalPrefixes: string[];
}

export class GlobalSyncClient implements Component, GlobalKv {
  readonly name = 'global-sync';
  readonly #logger: Logger;
  readonly #memory = new PeerMemory();
  readonly #url: URL;
  #status: Omit<GlobalSyncStatus, 'kvGlobalPrefixes' | 'lastContactAt'>;
  #lastAppliedAt: number | undefined;
  readonly #forwarder: KvWriteForwarder;
  /** The global prefixes in force: the last welcome's, else the stored ones. */
  #scopes: KvScopes | undefined;
  #loading: Promise<KvScopes> | undefined;
  /** The welcomed connection, while it is up. */
  #live: SyncChannel<GlobalToZone, ZoneToGlobal> | undefined;
  /** When the last welcomed connection last heard from global (ms since the epoch). */
  #lastContactAt: number | undefined;
  readonly #createdAt = Date.now();
  /** A renewal is under way (one at a time). */
  #renewing = false;
  /** Settles the `renew` in flight with global's answer. */
  #renewAnswer: { resolve: (pem: string) => void; reject: (err: Error) => void } | undefined;

  constructor(private readonly options: GlobalClientOptions) {
    this.#logger = options.logger.child({ component: 'global-sync' });
    this.#url = parseGlobalAddr(options.globalAddr);
    this.#status = { globalAddr: options.globalAddr, connected: false };
    this.#forwarder = new KvWriteForwarder(options.kvWriteTimeoutMs);
    if (options.zoneToken !== undefined) {
      const token = decodeZoneToken(options.zoneToken, 'zoneToken');
      if (token.zone !== options.zone) {
        throw new ConfigError(
          `the zone token is for zone "${token.zone}", but this zone is "${options.zone}" (--name)`,
          'zoneToken',
        );
      }
      if (token.td !== options.trustDomain) {
        throw new ConfigError(
          `the zone token is for trust domain "${token.td}", but this zone has "${options.trustDomain}" (--trust-domain)`,
          'zoneToken',
        );
      }
    }
  }

  status(): GlobalSyncStatus {
    const last = this.#lastContact();
    return {
      ...this.#status,
      ...(last === undefined ? {} : { lastContactAt: new Date(last).toISOString() }),
      kvGlobalPrefixes: [...(this.#scopes?.globalPrefixes ?? [])],
    };
  }

  /** {@link GlobalKv}: the global prefixes, from the last welcome or as stored. */
  scopes(): Promise<KvScopes> {
    if (this.#scopes) return Promise.resolve(this.#scopes);
    this.#loading ??= this.#loadScopes().catch((err: unknown) => {
      this.#loading = undefined;
      throw err;
    });
    return this.#loading;
  }

  /** {@link GlobalKv}: the replica's age, for the read headers of global keys. */
  contact(): ReadContact {
    return {
      knownLeader: this.#live !== undefined,
      lastContactMs: Date.now() - (this.#lastContact() ?? this.#createdAt),
    };
  }

  /** {@link GlobalKv}: send a write of a global key over the live connection. */
  forward(op: KvWriteOp): Promise<KvWrittenMessage> {
    return this.#forwarder.forward(op);
  }

  #lastContact(): number | undefined {
    return this.#live?.lastSeen ?? this.#lastContactAt;
  }

  async #loadScopes(): Promise<KvScopes> {
    const [stored, lastContact] = await Promise.all([
      loadKvScopes(this.options.store, this.#logger),
      loadLastContact(this.options.store),
    ]);
    this.#lastContactAt ??= lastContact;
    // A welcome that came meanwhile wins over what was stored.
    this.#scopes ??= stored ?? KvScopes.standalone;
    return this.#scopes;
  }

  /**
   * The welcome's prefixes are in force from now on (set before any delta of the
   * connection is validated). Keys the zone held under a prefix that is new to it are its
   * own, not global's: remove them, then remember the list, so that is done once.
   */
  async #adoptScopes(welcome: GlobalWelcome): Promise<void> {
    const { store } = this.options;
    const scopes = new KvScopes(welcome.kvGlobalPrefixes);
    const stored = await loadKvScopes(store, this.#logger);
    if (stored?.equals(scopes)) return;
    const added = scopes.globalPrefixes.filter((p) => !stored?.globalPrefixes.includes(p));
    try {
      const removed = await removeStrayKeys(store, added);
      if (removed > 0) {
        this.#logger.warn(
          { removed, prefixes: added },
          'deleted zone KV keys under prefixes that are now global (global is their one writer; its keys replace them)',
        );
      }
      await saveKvScopes(store, scopes);
      this.#logger.info({ kvGlobalPrefixes: scopes.globalPrefixes }, 'global KV prefixes set');
    } catch (err) {
      // Left unrecorded, so the next welcome tries again.
      this.#logger.error(
        { err: String(err), prefixes: added },
        'could not remove zone keys under new global KV prefixes; will retry at the next connection',
      );
    }
  }

  /**
   * The welcomed connection ended: writes in flight fail, and the replica's age counts
   * from the last frame it brought.
   */
  #retire(channel: SyncChannel<GlobalToZone, ZoneToGlobal>): void {
    if (this.#live !== channel) return;
    this.#forwarder.detach();
    this.#lastContactAt = channel.lastSeen;
    this.#live = undefined;
    this.#status = {
      ...this.#status,
      connected: false,
      disconnectedAt: new Date().toISOString(),
    };
  }

  async start(signal: AbortSignal): Promise<void> {
    const min = this.options.minBackoffMs ?? 500;
    const max = this.options.maxBackoffMs ?? 15_000;
    let backoff = min;
    while (!signal.aborted) {
      let synced = false;
      try {
        synced = await this.#session(signal);
      } catch (err) {
        if (signal.aborted) break;
        const message = err instanceof Error ? err.message : String(err);
        this.#status = { ...this.#status, connected: false, lastError: message };
        this.#logger.warn({ err: message, retryInMs: backoff }, 'zone sync with global failed');
      }
      if (signal.aborted) break;
      if (synced) backoff = min;
      // Jitter keeps a fleet of zones from reconnecting in lockstep after a global restart.
      await sleep(backoff / 2 + Math.random() * (backoff / 2), signal);
      backoff = Math.min(max, backoff * 2);
    }
  }

  /** One connection, until it closes; true when it got as far as the welcome. */
  async #session(signal: AbortSignal): Promise<boolean> {
    const { ca, zone, trustDomain } = this.options;
    const joined = await ca.installed();
    let roots: string[];
    let tlsIdentity: { cert: string; key: string } | undefined;
    let pinnedRoot: string | undefined;
    if (joined) {
      await Promise.race([ca.ready(), once(signal, 'abort')]);
      if (signal.aborted) return false;
      roots = trustBundlePems(ca.state);
      const keyPair = await generateKeyPair();
      const leaf = await ca.sign(
        createCsr({ keyPair, spiffeId: ca.controlSpiffeId }),
        ca.controlSpiffeId,
      );
      tlsIdentity = { cert: leaf.chainPem, key: privateKeyToPem(keyPair.privateKey) };
    } else {
      const token = this.options.zoneToken;
      if (token === undefined) {
        throw new ConfigError(
          'this zone has not joined its global control plane yet: give it a zone token (--zone-token-file or CAUSEWAY_ZONE_TOKEN; make one with `causeway zone create`)',
          'zoneToken',
        );
      }
      pinnedRoot =
        this.options.globalCaPem ??
        (await fetchPinnedRoot(
          this.#url.hostname,
          Number(this.#url.port),
          decodeZoneToken(token).rootPin,
        ));
      roots = [pinnedRoot];
    }
    // Node's TLS options pass through ws to tls.connect; ws types `checkServerIdentity` as its
    // own boolean variant, so the options are typed as what they are: TLS request options.
    const tlsOptions: https.RequestOptions = {
      ca: roots,
      ...(tlsIdentity ?? {}),
      servername: `global.${trustDomain}`,
      checkServerIdentity: globalServerIdentityCheck(trustDomain, roots),
      headers: joined ? {} : { authorization: `Bearer ${this.options.zoneToken ?? ''}` },
    };
    const ws = new WebSocket(this.#url, {
      ...(tlsOptions as ClientOptions),
      maxPayload: MAX_SYNC_FRAME_BYTES,
      handshakeTimeout: 10_000,
    });
    await opened(ws, signal);
    const inbox = new ResourceInbox<GlobalResourceType>({
      store: this.options.store,
      prefix: (type) => globalResourcePrefix(type),
      revisionKey: globalRevisionKey,
      validators: {
        ...baseValidators,
        kv: scopedKvValidator(() => this.#scopes ?? KvScopes.standalone),
      },
      projections: {
        kv: kvProjection(this.options.store, this.#logger),
        policy: policyProjection(this.options.store),
        'remote-revocation': revocationProjection(this.options.store, zone, this.#logger),
      },
      logger: this.#logger,
    });
    let welcome!: (w: GlobalWelcome) => void;
    let refused!: (err: Error) => void;
    const welcomed = new Promise<GlobalWelcome>((resolve, reject) => {
      welcome = resolve;
      refused = reject;
    });
    let closed!: () => void;
    const ended = new Promise<void>((resolve) => (closed = resolve));
    const channel = new SyncChannel<GlobalToZone, ZoneToGlobal>({
      socket: ws,
      decode: decodeGlobalFrame,
      inbox: inbox as ResourceInbox<ResourceType>,
      logger: this.#logger,
      onFrame: (frame) => {
        if (frame.type === 'welcome') {
          // In force before the deltas that follow the welcome are validated.
          if (frame.zone === zone && frame.trustDomain === trustDomain) {
            this.#scopes = new KvScopes(frame.kvGlobalPrefixes);
          }
          welcome(frame);
        } else if (frame.type === 'renewed') {
          this.#renewAnswer?.resolve(frame.intermediatePem);
        } else if (frame.type === 'kv-written') {
          if (!this.#forwarder.answer(frame)) {
            this.#logger.debug({ id: frame.id }, 'global answered a KV write nobody waits for');
          }
        } else if (frame.type === 'error') {
          this.#logger.warn(
            { code: frame.code, message: frame.message },
            'global reported an error',
          );
          refused(new Error(`global refused: ${frame.message}`));
          this.#renewAnswer?.reject(new Error(`global refused: ${frame.message}`));
        }
      },
      onClose: (code, reason) => {
        const gone = new Error(
          `global closed the connection (${code}${reason ? `: ${reason}` : ''})`,
        );
        refused(gone);
        this.#renewAnswer?.reject(gone);
        this.#retire(channel);
        closed();
      },
      onApplied: () => {
        this.#lastAppliedAt = Date.now();
        this.#status.lastAppliedAt = new Date(this.#lastAppliedAt).toISOString();
      },
    });
    const stop = (): void => channel.close(1001, 'zone stopping');
    signal.addEventListener('abort', stop, { once: true });
    let wasLive = false;
    let renewTimer: NodeJS.Timeout | undefined;
    try {
      let keyPair: KeyPair | undefined;
      if (!joined) keyPair = await generateKeyPair();
      channel.send({
        type: 'hello',
        protocol: SYNC_PROTOCOL_VERSION,
        zone,
        version: CAUSEWAY_VERSION,
        ...(keyPair ? { csr: createCsr({ keyPair, spiffeId: ca.controlSpiffeId }) } : {}),
        resume: await inbox.resume(),
        accepts: inbox.types,
      });
      const hello = await withTimeout(welcomed, 15_000, 'no welcome from global within 15 s');
      this.#checkWelcome(hello, pinnedRoot);
      if (keyPair) await this.#join(hello, keyPair);
      await this.#adoptScopes(hello);
      if (!channel.closed) {
        wasLive = true;
        this.#live = channel;
        this.#forwarder.attach((frame) => channel.send(frame));
      }
      this.#status = {
        ...this.#status,
        connected: true,
        connectedAt: new Date().toISOString(),
        lastError: undefined,
      };
      this.#logger.info({ auth: joined ? 'mtls' : 'token' }, 'zone sync with global established');
      channel.startHeartbeat(hello.heartbeatMs);
      if (hello.renews === true) {
        const check = (): void => void this.#renewIfDue(channel, !joined);
        check();
        renewTimer = setInterval(check, this.options.renewCheckMs ?? 60 * 60_000);
        renewTimer.unref();
      }
      const outbox = this.#outbox(channel, hello.accepts);
      channel.attachOutbox(outbox as ResourceOutbox<ResourceType>);
      outbox.start(hello.resume);
      const watching = this.#watch(
        outbox,
        channel,
        AbortSignal.any([signal, channelSignal(ended)]),
      );
      // The last contact is kept in the store as it goes, not only when the connection
      // ends: after a crash with global down, the replica's age must not restart at zero.
      const recordContact = (): void => {
        void saveLastContact(this.options.store, channel.lastSeen).catch((err: unknown) => {
          this.#logger.warn({ err: String(err) }, 'could not record the last contact with global');
        });
      };
      recordContact();
      const contactTimer = setInterval(recordContact, CONTACT_RECORD_MS);
      contactTimer.unref();
      const insight = setInterval(() => this.#sendInsight(channel), 5000);
      insight.unref();
      await ended;
      clearInterval(insight);
      clearInterval(contactTimer);
      await watching;
      return true;
    } catch (err) {
      channel.close(CLOSE_PROTOCOL, err instanceof Error ? err.message : String(err));
      throw err;
    } finally {
      clearInterval(renewTimer);
      this.#retire(channel);
      signal.removeEventListener('abort', stop);
      if (wasLive) {
        // Kept for a restart with global down: the replica's age survives it.
        await saveLastContact(this.options.store, channel.lastSeen).catch((err: unknown) => {
          this.#logger.warn({ err: String(err) }, 'could not record the last contact with global');
        });
      }
      this.#status = {
        ...this.#status,
        connected: false,
        disconnectedAt: new Date().toISOString(),
      };
    }
  }

  #checkWelcome(welcome: GlobalWelcome, pinnedRoot: string | undefined): void {
    if (welcome.zone !== this.options.zone || welcome.trustDomain !== this.options.trustDomain) {
      throw new ConfigError(
        `global welcomed zone ${welcome.zone} of ${welcome.trustDomain}, not ${this.options.zone} of ${this.options.trustDomain}`,
      );
    }
    if (pinnedRoot !== undefined && !welcome.roots.includes(pinnedRoot)) {
      throw new ConfigError("global's trust bundle does not hold the root the zone token pins");
    }
  }

  /** First connection: install the CA state made of global's root and our intermediate. */
  async #join(welcome: GlobalWelcome, keyPair: KeyPair): Promise<void> {
    if (welcome.intermediatePem === undefined) {
      throw new ConfigError('global sent no intermediate for our CSR');
    }
    const state = createFederatedCaState({
      trustDomain: this.options.trustDomain,
      zone: this.options.zone,
      rootPem: welcome.roots[0] as string,
      intermediatePem: welcome.intermediatePem,
      intermediateKey: keyPair.privateKey,
      sealer: this.options.sealer,
    });
    await this.options.ca.installFederated(state);
  }

  /**
   * Renew the zone intermediate over `channel` when less than `renewBelow` of its life is
   * left. A refusal or failure is logged and retried at the next check. Global renews only
   * over mutual TLS: on the connection the zone token opened (the first one), the zone
   * reconnects instead, and renews over the next.
   */
  async #renewIfDue(
    channel: SyncChannel<GlobalToZone, ZoneToGlobal>,
    viaToken: boolean,
  ): Promise<void> {
    if (this.#renewing) return;
    this.#renewing = true;
    const { ca } = this.options;
    let notAfter: string | undefined;
    try {
      // After a first join the CA loads the state zone sync just installed.
      await ca.ready();
      const state = ca.state;
      const active = state.intermediates.find((i) => i.rootId === state.activeRootId);
      if (!active || channel.closed) return;
      const cert = new X509Certificate(active.certificatePem);
      const from = Date.parse(cert.validFrom);
      const until = Date.parse(cert.validTo);
      notAfter = new Date(until).toISOString();
      if (until - Date.now() >= (until - from) * (this.options.renewBelow ?? 1 / 3)) return;
      if (viaToken) {
        this.#logger.info(
          { notAfter },
          'the zone intermediate is due for renewal: reconnecting with mutual TLS to renew it',
        );
        channel.close(1000, 'reconnecting with mutual TLS to renew the zone intermediate');
        return;
      }
      this.#logger.info({ notAfter }, 'renewing the zone intermediate before it expires');
      const keyPair = await generateKeyPair();
      const answer = new Promise<string>((resolve, reject) => {
        this.#renewAnswer = { resolve, reject };
      });
      channel.send({
        type: 'renew',
        csr: createCsr({ keyPair, spiffeId: ca.controlSpiffeId }),
      });
      const intermediatePem = await withTimeout(
        answer,
        15_000,
        'no answer from global to renew within 15 s',
      );
      await ca.renewFederatedIntermediate(intermediatePem, keyPair.privateKey);
    } catch (err) {
      this.#logger.warn(
        { err: err instanceof Error ? err.message : String(err), notAfter },
        'renewing the zone intermediate failed; retrying at the next check',
      );
    } finally {
      this.#renewAnswer = undefined;
      this.#renewing = false;
    }
  }

  #outbox(
    channel: SyncChannel<GlobalToZone, ZoneToGlobal>,
    accepts: readonly ZoneResourceType[] | undefined,
  ): ResourceOutbox<ZoneResourceType> {
    // Instances and gateways come from one catalog read; share it between the two types.
    let reading: Promise<ZoneResources> | undefined;
    const resources = (): Promise<ZoneResources> => {
      reading ??= readZoneResources(this.options.store, this.#logger).finally(() => {
        setImmediate(() => (reading = undefined));
      });
      return reading;
    };
    return new ResourceOutbox<ZoneResourceType>({
      readers: {
        instance: async () => (await resources()).instance,
        gateway: async () => (await resources()).gateway,
        export: () => readZoneExports(this.options.store, this.#logger),
        revocation: () => readZoneRevocations(this.options.store, this.options.zone, this.#logger),
      },
      send: (delta) => channel.send(delta),
      memory: this.#memory,
      // Only what this global takes: an older one does not know every type.
      ...(accepts === undefined ? {} : { accepts }),
      logger: this.#logger,
    });
  }

  /** Follow the catalog and config entries; tell the outbox (debounced) what changed. */
  async #watch(
    outbox: ResourceOutbox<ZoneResourceType>,
    channel: SyncChannel<GlobalToZone, ZoneToGlobal>,
    signal: AbortSignal,
  ): Promise<void> {
    const debounceMs = this.options.debounceMs ?? 10;
    const follow = async (prefix: string, types: ZoneResourceType[]): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      const changed = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          for (const type of types) outbox.changed(type);
          this.#sendInsight(channel);
        }, debounceMs);
      };
      while (!signal.aborted) {
        try {
          const from = await this.options.store.currentIndex();
          changed();
          for await (const event of this.options.store.watch(prefix, from, { signal })) {
            changed();
            if (event.type === 'resync') break;
          }
        } catch (err) {
          if (signal.aborted) break;
          if (isCausewayError(err) && err.code === 'CW_ERR_CLOSED') break;
          this.#logger.warn(
            { err: String(err), prefix },
            'watching zone resources failed; retrying',
          );
          await sleep(1000, signal);
        }
      }
      clearTimeout(timer);
    };
    await Promise.all([
      follow('catalog/', ['instance', 'gateway']),
      follow('config/', ['export']),
      // A leaf revoked here goes to global (so every zone refuses it) as soon as it is.
      follow(CA_REVOKED_PREFIX, ['revocation']),
    ]);
  }

  #sendInsight(channel: SyncChannel<GlobalToZone, ZoneToGlobal>): void {
    void this.#counts().then((counts) =>
      channel.send({
        type: 'insight',
        insight: {
          version: CAUSEWAY_VERSION,
          counts,
          proxies: this.options.proxies(),
          ...(this.#lastAppliedAt === undefined
            ? {}
            : { lastAckAt: new Date(this.#lastAppliedAt).toISOString() }),
        },
      }),
    );
  }

  async #counts(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const { entries } = await this.options.store.list('sync/global/');
    for (const entry of entries) {
      const type = entry.key.slice('sync/global/'.length).split('/', 1)[0] ?? '';
      counts[type] = (counts[type] ?? 0) + 1;
    }
    return counts;
  }
}

function parseGlobalAddr(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(
      `globalAddr must be a URL like wss://global.example:7601 (got ${JSON.stringify(value)})`,
      'globalAddr',
    );
  }
  if (url.protocol !== 'wss:' || !url.port || url.pathname !== '/' || url.search) {
    throw new ConfigError(
      `globalAddr must be wss://<host>:<port> (got ${JSON.stringify(value)})`,
      'globalAddr',
    );
  }
  return url;
}

async function opened(ws: WebSocket, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const abort = (): void => {
      ws.terminate();
      reject(new Error('stopped'));
    };
    signal.addEventListener('abort', abort, { once: true });
    ws.once('open', () => {
      signal.removeEventListener('abort', abort);
      resolve();
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk.slice(0, 1024)));
      res.on('end', () => {
        signal.removeEventListener('abort', abort);
        reject(new Error(`global refused the zone (HTTP ${res.statusCode}): ${body.trim()}`));
      });
      res.on('error', () => undefined);
    });
    ws.once('error', (err) => {
      signal.removeEventListener('abort', abort);
      reject(err);
    });
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function channelSignal(ended: Promise<void>): AbortSignal {
  const controller = new AbortController();
  void ended.then(() => controller.abort());
  return controller.signal;
}

/**
 * One zone's sync connection at global: waits for the zone's `hello`, signs its
 * intermediate when it sent a CSR, answers `welcome` (trust bundle, intermediate, the
 * global KV prefixes, the revisions global holds of the zone's resources), then runs both
 * directions: the zone's deltas into `sync/zone/<zone>/…`, and global's view for the zone
 * (other zones' exported services and gateways, global KV) out, resuming from what the
 * zone says it holds. Writes to global KV the zone forwards (`kv-write`) are written here
 * and answered (`kv-written`); a refused write is answered with its error, and the
 * connection stays up.
 *
 * Renewal: a zone whose intermediate nears its end sends `renew` with a CSR. Global signs
 * it only on a mutual-TLS connection whose client chain carries the newest intermediate
 * global issued the zone, and records `ca/renewed-intermediate/<zone>/<serial>` (created
 * with check-and-set) before signing, so each intermediate is renewed once: whoever else
 * holds an old intermediate's key (a thief) races the zone, and the loser is refused.
 */
import type { WebSocket } from 'ws';
import { X509Certificate } from 'node:crypto';
import {
  CLOSE_PROTOCOL,
  CLOSE_REPLACED,
  ConflictError,
  InvalidArgumentError,
  PermissionDeniedError,
  InvalidKvWriteError,
  RateLimitedError,
  ResourceInbox,
  ResourceOutbox,
  SYNC_PROTOCOL_VERSION,
  SyncChannel,
  decodeZoneFrame,
  httpStatusOf,
  normalizeSerial,
  syncErrorFrame,
  toErrorBody,
  zoneResourcePrefix,
  zoneResourceValidatorsFor,
} from '../../../core/index.ts';
import type {
  GlobalResourceType,
  GlobalToZone,
  KvWriteMessage,
  KvWrittenMessage,
  Logger,
  RenewMessage,
  ResourceType,
  ZoneHello,
  ZoneInsight,
  ZoneResourceType,
  ZoneSyncStatus,
  ZoneToGlobal,
} from '../../../core/index.ts';
import type { Authenticated, SyncServer } from './sync-server.ts';

/** A zone that connects but says nothing is dropped after this long. */
const HELLO_TIMEOUT_MS = 10_000;
/** KV writes one zone may have in flight; more are refused until answers go out. */
export const MAX_KV_WRITES_IN_FLIGHT = 64;
/**
 * A `kv-write` whose id is good but whose op is not: answered with a `kv-written` error
 * rather than closing the connection, since the zone is waiting on that id.
 */
interface RefusedKvWrite {
  type: 'kv-write-refused';
  id: string;
  error: unknown;
}

type SessionFrame = ZoneToGlobal | RefusedKvWrite;

function decodeSessionFrame(text: string): SessionFrame {
  try {
    return decodeZoneFrame(text);
  } catch (err) {
    if (err instanceof InvalidKvWriteError) {
      return { type: 'kv-write-refused', id: err.id, error: err };
    }
    throw err;
  }
}

/** Where global records the revision of each zone resource type it applied. */
export const zoneRevisionKey = (zone: string, type: ResourceType): string =>
  `sync/rev/zone/${zone}/${type}`;

/** Marks zone intermediate `serial` as renewed: it can be renewed no second time. */
export const renewedIntermediateKey = (zone: string, serial: string): string =>
  `ca/renewed-intermediate/${zone}/${serial}`;

export class ZoneSession {
  readonly zone: string;
  readonly #channel: SyncChannel<SessionFrame, GlobalToZone>;
  readonly #inbox: ResourceInbox<ZoneResourceType>;
  #outbox: ResourceOutbox<GlobalResourceType> | undefined;
  readonly #logger: Logger;
  readonly #helloTimer: NodeJS.Timeout;
  readonly #connectedAt = new Date().toISOString();
  #insight: ZoneInsight | undefined;
  #welcomed = false;
  #kvWritesInFlight = 0;
  /**
   * The intermediate this connection proved it holds: the one in its client chain, then
   * the one each `renew` signed (the zone generated that key).
   */
  #intermediateSerial: string | undefined;
  #renewing = false;

  constructor(
    ws: WebSocket,
    private readonly who: Authenticated,
    private readonly server: SyncServer,
  ) {
    this.zone = who.zone;
    this.#intermediateSerial = who.intermediateSerial;
    this.#logger = server.logger.child({ zone: who.zone });
    const store = server.options.store;
    this.#inbox = new ResourceInbox<ZoneResourceType>({
      store,
      prefix: (type) => zoneResourcePrefix(who.zone, type),
      revisionKey: (type) => zoneRevisionKey(who.zone, type),
      // A zone revokes only its own leaves: one naming another zone is NACKed.
      validators: zoneResourceValidatorsFor(who.zone),
      ...(server.options.registry.syncGuard
        ? { guard: () => server.options.registry.syncGuard?.(who.zone) ?? Promise.resolve([]) }
        : {}),
      logger: this.#logger,
    });
    this.#channel = new SyncChannel<SessionFrame, GlobalToZone>({
      socket: ws,
      decode: decodeSessionFrame,
      inbox: this.#inbox as ResourceInbox<ResourceType>,
      logger: this.#logger,
      onFrame: (frame) => this.#onFrame(frame),
      onClose: (code, reason) => this.#closed(code, reason),
      onApplied: () => {
        // A zone whose first full set arrived is known, even if that set is empty.
        this.server.mesh.markKnown(who.zone);
        this.#publish();
      },
    });
    this.#helloTimer = setTimeout(
      () => this.close(CLOSE_PROTOCOL, `no hello within ${HELLO_TIMEOUT_MS} ms`),
      HELLO_TIMEOUT_MS,
    );
    this.#helloTimer.unref();
    this.#logger.info({ auth: who.auth }, 'zone connected');
    this.#publish();
  }

  /** What `/api/zones` shows while the session lives. */
  liveStatus(): Partial<ZoneSyncStatus> {
    const lastAck = this.#outbox?.lastAckAt();
    return {
      online: !this.#channel.closed,
      lastSeen: new Date(this.#channel.lastSeen).toISOString(),
      ...(lastAck === undefined ? {} : { lastAckAt: new Date(lastAck).toISOString() }),
      lagMs: this.#outbox?.lagMs() ?? 0,
    };
  }

  /** Other zones' resources changed: recompute what this zone should have. */
  meshChanged(): void {
    if (!this.#outbox) return;
    // A zone global had not heard from may be known now: full sets stop retaining it.
    void this.#refreshRetain();
    this.#outbox.changed('remote-service');
    this.#outbox.changed('remote-gateway');
    this.#outbox.changed('remote-revocation');
  }

  /** Global KV changed: send the zone what changed. */
  kvChanged(): void {
    this.#outbox?.changed('kv');
  }

  /** Global policies changed: send the zone what changed. */
  policiesChanged(): void {
    this.#outbox?.changed('policy');
  }

  /** A newer connection of the same zone took over. */
  replace(): void {
    this.close(CLOSE_REPLACED, 'replaced by a newer connection of this zone');
  }

  close(code: number, reason: string): void {
    this.#channel.close(code, reason);
  }

  #onFrame(frame: SessionFrame): void {
    switch (frame.type) {
      case 'hello':
        void this.#hello(frame).catch((err: unknown) => {
          this.#channel.send(syncErrorFrame(err));
          this.close(CLOSE_PROTOCOL, err instanceof Error ? err.message : String(err));
        });
        return;
      case 'insight':
        this.#insight = frame.insight;
        this.#publish();
        return;
      case 'kv-write':
        void this.#kvWrite(frame);
        return;
      case 'kv-write-refused':
        this.#kvRefused(frame.id, frame.error);
        return;
      case 'renew':
        void this.#renew(frame);
        return;
      case 'error':
        this.#logger.warn(
          { code: frame.code, message: frame.message },
          'the zone reported an error',
        );
        return;
      default:
        this.#channel.send(syncErrorFrame(new Error(`unexpected ${frame.type} frame`)));
    }
  }

  async #hello(hello: ZoneHello): Promise<void> {
    if (this.#welcomed) throw new Error('hello was already received on this connection');
    // Set before anything is awaited: a second hello racing the first must not get its own
    // intermediate and outbox.
    this.#welcomed = true;
    clearTimeout(this.#helloTimer);
    if (hello.zone !== this.zone) {
      throw new Error(
        `hello names zone ${hello.zone}, but this connection authenticated as zone ${this.zone}`,
      );
    }
    const { ca } = this.server.options;
    let intermediatePem: string | undefined;
    if (hello.csr !== undefined && this.who.auth !== 'token') {
      // An intermediate is what a zone token buys. A zone that authenticated with its
      // control identity already has one; letting it mint more would make a stolen identity
      // (or one from before the zone was deleted) renewable for ever.
      throw new Error('a CSR for the zone intermediate needs the zone token, not mutual TLS');
    }
    if (hello.csr !== undefined) {
      intermediatePem = (await ca.signZoneIntermediate(this.zone, hello.csr)).certificatePem;
      this.#logger.info({ auth: this.who.auth }, 'signed the zone intermediate');
    }
    this.#channel.send({
      type: 'welcome',
      protocol: SYNC_PROTOCOL_VERSION,
      zone: this.zone,
      trustDomain: ca.trustDomain,
      roots: [ca.rootPem()],
      ...(intermediatePem === undefined ? {} : { intermediatePem }),
      heartbeatMs: this.server.heartbeatMs,
      kvGlobalPrefixes: [...this.server.kv.scopes.globalPrefixes],
      resume: await this.#inbox.resume(),
      accepts: this.#inbox.types,
      renews: ca.intermediates !== undefined,
    });
    this.#channel.startHeartbeat(this.server.heartbeatMs);
    const { mesh, kvIndex, policyIndex } = this.server;
    // A full set sent before global has read its store would look like deletions.
    await Promise.all([mesh.whenLoaded(), kvIndex.whenLoaded(), policyIndex.whenLoaded()]);
    if (this.#channel.closed) return;
    this.#outbox = new ResourceOutbox<GlobalResourceType>({
      readers: {
        'remote-service': () => Promise.resolve(mesh.remoteServicesFor(this.zone)),
        'remote-gateway': () => Promise.resolve(mesh.remoteGatewaysFor(this.zone)),
        kv: () => Promise.resolve(kvIndex.resources()),
        policy: () => Promise.resolve(policyIndex.resources()),
        'remote-revocation': () => Promise.resolve(mesh.remoteRevocationsFor(this.zone)),
      },
      send: (delta) => this.#channel.send(delta),
      memory: this.server.memory(this.zone),
      // Only what this zone takes: an older one does not know every type.
      ...(hello.accepts === undefined ? {} : { accepts: hello.accepts }),
      // Zone-name prefixes concern what other zones sent (remote services, gateways and
      // revocations); global KV and policies are global's own, always known in full.
      retain: (type) =>
        type === 'remote-service' || type === 'remote-gateway' || type === 'remote-revocation'
          ? this.#retain
          : [],
      logger: this.#logger,
    });
    this.#channel.attachOutbox(this.#outbox as ResourceOutbox<ResourceType>);
    await this.#refreshRetain();
    this.#outbox.start(hello.resume);
    this.#publish();
  }

  #retain: string[] = [];

  /**
   * Sign a new zone intermediate from a `renew` CSR and answer `renewed`, or an `error`
   * frame saying why not (the connection stays up either way).
   */
  async #renew(frame: RenewMessage): Promise<void> {
    try {
      const signed = await this.#renewIntermediate(frame.csr);
      this.#channel.send({ type: 'renewed', intermediatePem: signed });
    } catch (err) {
      if (httpStatusOf(err) >= 500) {
        this.#logger.error({ err }, 'renewing the zone intermediate failed');
      } else {
        this.#logger.info(
          { error: toErrorBody(err).error },
          'refused to renew the zone intermediate',
        );
      }
      this.#channel.send(syncErrorFrame(err));
    }
  }

  async #renewIntermediate(csr: string): Promise<string> {
    const { ca, registry, store } = this.server.options;
    if (!this.#welcomed) throw new InvalidArgumentError('renew before hello', 'type');
    const presented = this.#intermediateSerial;
    if (this.who.auth !== 'mtls' || presented === undefined) {
      // A token buys the first intermediate only; renewing takes the current one.
      throw new PermissionDeniedError(
        'renewing the zone intermediate needs a mutual-TLS connection with the current one, not the zone token',
      );
    }
    if (!ca.intermediates) {
      throw new ConflictError('this global control plane does not renew zone intermediates');
    }
    if (this.#renewing) {
      throw new ConflictError('a renewal of the zone intermediate is already in progress');
    }
    this.#renewing = true;
    try {
      const record = await registry.get(this.zone);
      if (!record) throw new PermissionDeniedError(`zone ${this.zone} does not exist`);
      if (!record.enabled) throw new PermissionDeniedError(`zone ${this.zone} is disabled`);
      const issued = await ca.intermediates(this.zone);
      const newest = issued.reduce<(typeof issued)[number] | undefined>(
        (a, b) => (a === undefined || b.issuedAt >= a.issuedAt ? b : a),
        undefined,
      );
      if (newest?.serial !== presented) {
        this.#logger.warn(
          { presented, newest: newest?.serial },
          'refused to renew a zone intermediate that is not the newest issued to the zone',
        );
        throw new PermissionDeniedError(
          `zone intermediate ${presented} is not the newest issued to zone ${this.zone}${newest ? ` (${newest.serial} is)` : ''}: only the newest is renewed`,
        );
      }
      // Created with check-and-set before signing: two connections presenting the same
      // intermediate (the zone and whoever stole its key) cannot both renew it.
      const claimed = await store.put(
        renewedIntermediateKey(this.zone, presented),
        Buffer.from(JSON.stringify({ renewedAt: new Date().toISOString() })),
        { cas: 0 },
      );
      if (!claimed.ok) {
        this.#logger.warn(
          { presented, newest: newest.serial },
          'refused to renew a zone intermediate renewed already',
        );
        throw new PermissionDeniedError(
          `zone intermediate ${presented} was renewed already: only the newest is renewed`,
        );
      }
      let certificatePem: string;
      try {
        ({ certificatePem } = await ca.signZoneIntermediate(this.zone, csr));
      } catch (err) {
        // Nothing was signed (a bad CSR, say): the intermediate may still be renewed.
        await store.delete(renewedIntermediateKey(this.zone, presented), {
          cas: claimed.entry.modifyIndex,
        });
        throw err;
      }
      this.#intermediateSerial = normalizeSerial(new X509Certificate(certificatePem).serialNumber);
      this.#logger.info(
        { previous: presented, serial: this.#intermediateSerial },
        'renewed the zone intermediate',
      );
      return certificatePem;
    } finally {
      this.#renewing = false;
    }
  }

  async #refreshRetain(): Promise<void> {
    try {
      this.#retain = this.server.mesh.retainFor(await this.server.options.registry.names());
    } catch (err) {
      // Keep the last list: retaining too much only delays a removal until the next set.
      this.#logger.warn({ err: String(err) }, 'could not list the zones to retain');
    }
  }

  /**
   * Write to global KV for the zone (its ACLs already allowed it) and answer with the
   * same id. Every failure is answered, never thrown: a zone cannot break the session,
   * nor write outside the global prefixes (the write function refuses that).
   */
  async #kvWrite(frame: KvWriteMessage): Promise<void> {
    if (!this.#welcomed) {
      this.#kvRefused(frame.id, new InvalidArgumentError('kv-write before hello', 'type'));
      return;
    }
    if (this.#kvWritesInFlight >= MAX_KV_WRITES_IN_FLIGHT) {
      this.#kvRefused(
        frame.id,
        new RateLimitedError(
          `zone ${this.zone} has ${MAX_KV_WRITES_IN_FLIGHT} global KV writes in flight; wait for their answers`,
          100,
        ),
      );
      return;
    }
    this.#kvWritesInFlight++;
    try {
      const result = await this.server.kv.write(frame.op);
      this.#logger.debug(
        { id: frame.id, verb: frame.op.verb, key: frame.op.key, ...result },
        'wrote global KV for the zone',
      );
      this.#channel.send({ type: 'kv-written', id: frame.id, ...result });
    } catch (err) {
      this.#kvRefused(frame.id, err);
    } finally {
      this.#kvWritesInFlight--;
    }
  }

  #kvRefused(id: string, err: unknown): void {
    const { error } = toErrorBody(err);
    if (httpStatusOf(err) >= 500) {
      this.#logger.error({ err, id }, 'a global KV write for the zone failed');
    } else {
      this.#logger.info({ id, error }, 'refused a global KV write from the zone');
    }
    const answer: KvWrittenMessage = {
      type: 'kv-written',
      id,
      ok: false,
      index: 0,
      error: {
        code: error.code,
        message: error.message,
        ...(error.field === undefined ? {} : { field: error.field }),
      },
    };
    this.#channel.send(answer);
  }

  #publish(): void {
    this.server.publish(this.zone, {
      online: !this.#channel.closed,
      connectedAt: this.#connectedAt,
      auth: this.who.auth,
      ...(this.#insight ? { insight: this.#insight } : {}),
      ...this.liveStatus(),
    });
  }

  #closed(code: number, reason: string): void {
    clearTimeout(this.#helloTimer);
    this.#logger.info({ code, reason }, 'zone disconnected');
    this.#publish();
    this.server.release(this);
  }
}

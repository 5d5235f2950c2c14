/**
 * The zones the global control plane knows: create, read, enable/disable and delete them,
 * issue their tokens, and decide whether a presented zone token may open a sync session.
 *
 * Records live at `zones/<name>` (see `zone-record.ts`); every change is a check-and-set,
 * so replicas sharing a store never overwrite each other. Deleting a zone also deletes
 * what it synced (`sync/zone/<name>/`) in the same transaction. {@link onChange} follows
 * `zones/` with a store watch, so a sync server on any replica can close the session of a
 * zone disabled or deleted through another.
 */
import {
  ConflictError,
  NotFoundError,
  PermissionDeniedError,
  childLogger,
  sleep,
  validateSpiffeSegment,
  zoneResourcePrefix,
} from '../../../core/index.ts';
import type { Component, Logger, Store, TxnOp, ZoneKind } from '../../../core/index.ts';
import type { ZoneTokenRequest } from '../ca/global-ca.ts';
import { ZONES_PREFIX, decodeZone, encodeZone, zoneKey } from './zone-record.ts';
import type { StoredZone, ZoneRecord } from './zone-record.ts';

/** What the registry needs from the CA: signing and checking zone tokens. */
/**
 * The token is genuine, but its zone may not connect (deleted or disabled): a 403, where a
 * token that proves nothing (bad signature, expired, revoked, wrong kind) is a 401.
 */
export class ZoneNotAllowedError extends PermissionDeniedError {}

export interface ZoneTokenAuthority {
  issueZoneToken(request: ZoneTokenRequest): {
    token: string;
    payload: { exp: number; jti: string };
  };
  verifyZoneTokenSignature(
    token: unknown,
    now?: Date,
  ): { zone: string; kind: ZoneKind; iat: number; exp: number; jti: string };
}

export interface ZoneRegistryOptions {
  /** Lifetime of a token when the request names none. */
  defaultTokenTtlMs: number;
}

/** A token as the API hands it out. */
export interface IssuedZoneToken {
  token: string;
  /** ISO time. */
  expiresAt: string;
  jti: string;
}

/** What a valid token tells the sync server. */
export interface VerifiedZoneToken {
  zone: string;
  kind: ZoneKind;
  /** Expiry, seconds since the epoch. */
  exp: number;
  jti: string;
  record: ZoneRecord;
}

/** A zone was created or changed (`zone` set) or deleted (`zone` undefined). */
export interface ZoneChange {
  name: string;
  zone: ZoneRecord | undefined;
}

/** How often a check-and-set write is retried against concurrent writers. */
const CAS_ATTEMPTS = 5;

const wholeSecond = (ms: number): number => Math.floor(ms / 1000) * 1000;

export class ZoneRegistry implements Component {
  readonly name = 'zone-registry';
  readonly #store: Store;
  readonly #tokens: ZoneTokenAuthority;
  readonly #options: ZoneRegistryOptions;
  readonly #logger: Logger;
  readonly #listeners = new Set<(change: ZoneChange) => void>();

  constructor(
    store: Store,
    tokens: ZoneTokenAuthority,
    options: ZoneRegistryOptions,
    logger: Logger,
  ) {
    this.#store = store;
    this.#tokens = tokens;
    this.#options = options;
    this.#logger = childLogger(logger, 'zones');
  }

  /**
   * Register a zone and issue its first token.
   *
   * @throws ConflictError when the zone exists; InvalidArgumentError for a bad name.
   */
  async create(input: {
    name: string;
    kind: ZoneKind;
    tokenTtlMs?: number;
  }): Promise<{ zone: ZoneRecord; token: IssuedZoneToken }> {
    const name = validateSpiffeSegment(input.name, 'name');
    const now = Date.now();
    const zone: ZoneRecord = {
      name,
      kind: input.kind,
      enabled: true,
      createdAt: new Date(now).toISOString(),
      tokensValidAfter: new Date(wholeSecond(now)).toISOString(),
    };
    const put = await this.#store.put(zoneKey(name), encodeZone(zone), { cas: 0 });
    if (!put.ok) throw new ConflictError(`zone "${name}" already exists`, 'name');
    this.#logger.info({ zone: name, kind: zone.kind }, 'registered a zone');
    return { zone, token: this.#issue(zone, input.tokenTtlMs) };
  }

  /** The zone's record, or undefined. */
  async get(name: string): Promise<ZoneRecord | undefined> {
    return (await this.#read(name))?.zone;
  }

  /** Every zone, by name. */
  async list(): Promise<ZoneRecord[]> {
    const { entries } = await this.#store.list(ZONES_PREFIX);
    return entries.map((e) => decodeZone(e.key, e.value));
  }

  /** Every zone's name, sorted. */
  async names(): Promise<string[]> {
    return (await this.list()).map((z) => z.name);
  }

  /**
   * A new token for the zone. With `rotate`, every token issued before this one stops
   * working: the zone's `tokensValidAfter` moves to the next whole second and the new
   * token is issued at that second.
   *
   * @throws NotFoundError for an unknown zone.
   */
  async issueToken(
    name: string,
    options: { ttlMs?: number; rotate?: boolean } = {},
  ): Promise<{ zone: ZoneRecord; token: IssuedZoneToken }> {
    if (!options.rotate) {
      const zone = (await this.#require(name)).zone;
      return { zone, token: this.#issue(zone, options.ttlMs) };
    }
    const zone = await this.#update(name, (z) => {
      // Tokens carry whole seconds: a cut-off on the next second refuses every token
      // issued up to now, and the new token, issued at the cut-off, passes.
      const cutOff = wholeSecond(Date.now()) + 1000;
      const after = Math.max(cutOff, Date.parse(z.tokensValidAfter));
      return { ...z, tokensValidAfter: new Date(after).toISOString() };
    });
    this.#logger.info(
      { zone: name, tokensValidAfter: zone.tokensValidAfter },
      "rotated the zone's tokens",
    );
    return { zone, token: this.#issue(zone, options.ttlMs) };
  }

  /** Enable or disable a zone. @throws NotFoundError for an unknown zone. */
  async setEnabled(name: string, enabled: boolean): Promise<ZoneRecord> {
    const zone = await this.#update(name, (z) => ({ ...z, enabled }));
    this.#logger.info({ zone: name, enabled }, enabled ? 'enabled a zone' : 'disabled a zone');
    return zone;
  }

  /**
   * Delete a zone and everything it synced (`sync/zone/<name>/`), in one transaction.
   *
   * @throws NotFoundError for an unknown zone.
   */
  async delete(name: string): Promise<void> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const stored = await this.#require(name);
      const result = await this.#store.txn([
        { op: 'check-index', key: zoneKey(name), index: stored.modifyIndex },
        { op: 'delete', key: zoneKey(name) },
        { op: 'delete-tree', key: zoneResourcePrefix(name) },
        // The revisions global applied of the zone's resources go with them: a zone created
        // again under this name starts from a full set.
        { op: 'delete-tree', key: `sync/rev/zone/${name}/` },
      ]);
      if (result.ok) {
        this.#logger.info({ zone: name }, 'deleted a zone and its synced resources');
        return;
      }
    }
    throw new ConflictError(`zone "${name}" kept changing while it was being deleted; try again`);
  }

  /**
   * What every write of `name`'s synced resources checks: its record is the one read now.
   * A delete of the zone removes its resources in one transaction with the record, so a
   * session still applying a delta either lands before it (and is deleted with it) or
   * fails here, never after it. (Any other change to the record, like a token rotation,
   * fails one delta; the zone resends it.)
   *
   * @throws ZoneNotAllowedError when the zone no longer exists.
   */
  async syncGuard(name: string): Promise<TxnOp[]> {
    const entry = await this.#store.get(zoneKey(name));
    if (!entry) throw new ZoneNotAllowedError(`zone "${name}" no longer exists`);
    return [{ op: 'check-index', key: zoneKey(name), index: entry.modifyIndex }];
  }

  /**
   * Decide whether `token` may open a sync session: a good signature, not expired, for
   * `expectedZone` when given, of a zone that exists, is enabled, and has not rotated its
   * tokens since this one was issued.
   *
   * @throws PermissionDeniedError saying which of those failed.
   */
  async verifyToken(
    token: unknown,
    expectedZone?: string,
    now: Date = new Date(),
  ): Promise<VerifiedZoneToken> {
    const claims = this.#tokens.verifyZoneTokenSignature(token, now);
    if (expectedZone !== undefined && claims.zone !== expectedZone) {
      throw new PermissionDeniedError(
        `zone token is for zone "${claims.zone}", not "${expectedZone}"`,
      );
    }
    const record = await this.get(claims.zone);
    if (!record) {
      throw new ZoneNotAllowedError(
        `zone "${claims.zone}" is not registered (it may have been deleted); create it with: causeway zone create ${claims.zone}`,
      );
    }
    if (!record.enabled) {
      throw new ZoneNotAllowedError(
        `zone "${claims.zone}" is disabled; enable it with: causeway zone enable ${claims.zone}`,
      );
    }
    if (claims.iat * 1000 < Date.parse(record.tokensValidAfter)) {
      throw new PermissionDeniedError(
        `zone token was revoked by a rotation at ${record.tokensValidAfter}; issue a new one with: causeway zone token ${claims.zone}`,
      );
    }
    if (claims.kind !== record.kind) {
      throw new PermissionDeniedError(
        `zone token is for a ${claims.kind} zone, but "${claims.zone}" is ${record.kind}`,
      );
    }
    return { zone: claims.zone, kind: claims.kind, exp: claims.exp, jti: claims.jti, record };
  }

  /**
   * Call `listener` whenever a zone is created, changed or deleted, on any replica.
   * Returns the unsubscribe. Changes are delivered while the registry runs.
   */
  onChange(listener: (change: ZoneChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Follow `zones/` until `signal` aborts, telling listeners about every change. */
  async start(signal: AbortSignal): Promise<void> {
    let known = new Set<string>();
    let from = 0;
    // Missed changes (a resync, a store outage) are made up for by comparing a fresh
    // listing with what listeners were told, deletions included.
    const catchUp = async (announce: boolean): Promise<void> => {
      const { entries, index } = await this.#store.list(ZONES_PREFIX);
      const names = new Set(entries.map((e) => e.key.slice(ZONES_PREFIX.length)));
      if (announce) {
        for (const name of known) if (!names.has(name)) this.#emit(name, undefined);
        for (const e of entries) this.#emit(e.key.slice(ZONES_PREFIX.length), e.value);
      }
      known = names;
      from = index;
    };
    await catchUp(false);
    while (!signal.aborted) {
      try {
        for await (const event of this.#store.watch(ZONES_PREFIX, from, { signal })) {
          if (event.type === 'resync') {
            this.#logger.debug({ reason: event.reason }, 'zone watch resync');
            break;
          }
          for (const change of event.changes) {
            const name = change.key.slice(ZONES_PREFIX.length);
            if (change.op === 'put') known.add(name);
            else known.delete(name);
            this.#emit(name, change.op === 'put' ? change.entry.value : undefined);
          }
          from = event.index;
        }
        if (signal.aborted) return;
        await catchUp(true);
      } catch (err) {
        if (signal.aborted) return;
        this.#logger.warn({ err: String(err) }, 'zone watch failed; retrying in 1s');
        await sleep(1000, signal);
        if (!signal.aborted) await catchUp(true).catch(() => undefined);
      }
    }
  }

  #emit(name: string, raw: Buffer | undefined): void {
    let zone: ZoneRecord | undefined;
    try {
      zone = raw === undefined ? undefined : decodeZone(zoneKey(name), raw);
    } catch (err) {
      this.#logger.warn({ err: String(err), zone: name }, 'ignoring a malformed zone record');
      return;
    }
    for (const listener of this.#listeners) {
      try {
        listener({ name, zone });
      } catch (err) {
        this.#logger.error({ err, zone: name }, 'a zone change listener failed');
      }
    }
  }

  #issue(zone: ZoneRecord, ttlMs: number | undefined): IssuedZoneToken {
    // Never before the cut-off, or a token issued right after a rotation would be refused.
    const iat = Math.max(
      Math.floor(Date.now() / 1000),
      Math.floor(Date.parse(zone.tokensValidAfter) / 1000),
    );
    const { token, payload } = this.#tokens.issueZoneToken({
      zone: zone.name,
      kind: zone.kind,
      ttlMs: ttlMs ?? this.#options.defaultTokenTtlMs,
      iat,
    });
    return { token, expiresAt: new Date(payload.exp * 1000).toISOString(), jti: payload.jti };
  }

  async #read(name: string): Promise<StoredZone | undefined> {
    const key = zoneKey(validateSpiffeSegment(name, 'name'));
    const entry = await this.#store.get(key);
    return entry
      ? { zone: decodeZone(key, entry.value), modifyIndex: entry.modifyIndex }
      : undefined;
  }

  async #require(name: string): Promise<StoredZone> {
    const stored = await this.#read(name);
    if (!stored) throw new NotFoundError(`zone "${name}" does not exist`, 'name');
    return stored;
  }

  async #update(name: string, change: (zone: ZoneRecord) => ZoneRecord): Promise<ZoneRecord> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const stored = await this.#require(name);
      const next = change(stored.zone);
      const put = await this.#store.put(zoneKey(name), encodeZone(next), {
        cas: stored.modifyIndex,
      });
      if (put.ok) return next;
    }
    throw new ConflictError(`zone "${name}" kept changing; try again`);
  }
}

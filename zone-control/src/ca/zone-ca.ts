/**
 * The zone's certificate authority: loads (or, for a standalone zone, creates) the CA
 * state from the store, signs leaves from CSRs with the active intermediate, records every
 * leaf so no serial is issued twice, keeps the revocation list, and drives a root
 * rotation through its phases as their conditions come true.
 *
 * Several replicas of a zone may share one store: the state is one record written with
 * check-and-set, each replica reloads it when it changes, and whichever replica notices a
 * phase's condition first moves the rotation on; the others' writes then fail the CAS and
 * reload.
 */
import { X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import {
  CA_ACK_PREFIX,
  CA_LEAF_PREFIX,
  CA_REVOKED_PREFIX,
  CA_STATE_KEY,
  ConflictError,
  NotFoundError,
  RateLimitedError,
  TokenBucket,
  createCaState,
  decodeCaState,
  decodeRecord,
  encodeCaState,
  formatSpiffeId,
  normalizeSerial,
  replaceFederatedIntermediate,
  retireOldRoot,
  signLeafCertificate,
  signingCa,
  sleep,
  startRotation,
  switchSigning,
  trustBundlePems,
} from '../../../core/index.ts';
import type {
  AckRecord,
  CaState,
  Component,
  KeySealer,
  KeyType,
  LeafRecord,
  Logger,
  ProvidedCa,
  RevocationRecord,
  SigningCa,
  Store,
} from '../../../core/index.ts';

export interface ZoneCaOptions {
  trustDomain: string;
  zone: string;
  sealer: KeySealer;
  keyType: KeyType;
  /** A root to use instead of generating one, at first start only. */
  provided?: ProvidedCa;
  leafTtlMs: number;
  /** CSR signings per second (token bucket; burst the same). */
  signRatePerSecond: number;
  /** Participants not seen for this long no longer hold a rotation in phase 2. */
  participantTtlMs: number;
  /**
   * The zone belongs to a global control plane: its CA state (global root, intermediate
   * signed by global) is written by zone sync on the first connection, and is never
   * created here. @default false
   */
  federated?: boolean;
  /** How often the rotation driver and the pruner look. @default 1000 */
  tickMs?: number;
  now?: () => number;
}

export interface IssuedLeaf {
  serial: string;
  spiffeId: string;
  certificatePem: string;
  /** The leaf then its intermediate. */
  chainPem: string;
  trustBundle: string[];
  bundleVersion: number;
  rootId: string;
  notBefore: Date;
  notAfter: Date;
  /** When it was signed (`notBefore` is backdated a minute for clock skew). */
  issuedAt: Date;
  /** The store index the leaf was recorded at. */
  index: number;
}

export interface AckProgress {
  zone: string;
  bundleVersion: number;
  acked: string[];
  pending: string[];
  stale: string[];
}

/**
 * One ack record per instance: two proxies of one service are two participants, so an
 * up-to-date one cannot stand in for one that still trusts only the old root.
 */
const ackKey = (participant: string, instance: string): string =>
  CA_ACK_PREFIX + Buffer.from(`${participant} ${instance}`).toString('base64url');

/** How a participant is listed in progress reports. */
const participantName = (ack: AckRecord): string =>
  ack.instance ? `${ack.participant} (${ack.instance})` : ack.participant;

export class ZoneCa implements Component {
  readonly name = 'zone-ca';
  readonly #store: Store;
  readonly #options: ZoneCaOptions;
  readonly #logger: Logger;
  readonly #bucket: TokenBucket;
  readonly #now: () => number;
  #state: CaState | undefined;
  #stateIndex = 0;
  #signer: SigningCa | undefined;
  #wake: (() => void) | undefined;
  #loaded!: () => void;
  readonly #ready = new Promise<void>((resolve) => (this.#loaded = resolve));
  /** Leaves signed by this process since it started. */
  issuedSinceStart = 0;

  constructor(store: Store, options: ZoneCaOptions, logger: Logger) {
    this.#store = store;
    this.#options = options;
    this.#logger = logger.child({ component: 'zone-ca' });
    this.#bucket = new TokenBucket(options.signRatePerSecond);
    this.#now = options.now ?? Date.now;
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  /** The loaded state; only valid after {@link ready}. */
  get state(): CaState {
    if (!this.#state) throw new ConflictError('the CA is not loaded yet');
    return this.#state;
  }

  get stateIndex(): number {
    return this.#stateIndex;
  }

  get controlSpiffeId(): string {
    return formatSpiffeId({
      kind: 'control',
      trustDomain: this.#options.trustDomain,
      zone: this.#options.zone,
    });
  }

  async start(signal: AbortSignal): Promise<void> {
    try {
      await this.load(signal);
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    this.#loaded();
    const from = await this.#store.currentIndex();
    await Promise.all([
      this.#follow(CA_STATE_KEY, true, this.#stateIndex, () => this.#reloadIfNewer(), signal),
      this.#follow(
        CA_REVOKED_PREFIX,
        false,
        from,
        () => {
          for (const listener of this.#revocationListeners) listener();
        },
        signal,
      ),
      this.#drive(signal),
    ]);
  }

  /**
   * Read the state, creating it on a first start; safe against a concurrent first start.
   * A federated zone waits instead until zone sync has installed the state from global.
   */
  async load(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const entry = await this.#store.get(CA_STATE_KEY);
      if (entry) {
        const state = decodeCaState(entry.value);
        if (this.#options.federated && state.roots.some((r) => r.source !== 'global')) {
          throw new ConflictError(
            `this zone's store holds a standalone CA (its own root ${state.activeRootId}); a zone joins a global control plane with a fresh store (moving a standalone zone's CA under the global root is not built yet)`,
            'globalAddr',
          );
        }
        this.#install(state, entry.modifyIndex);
        return;
      }
      if (this.#options.federated) {
        this.#logger.info("waiting for the global control plane to sign this zone's intermediate");
        const from = await this.#store.currentIndex();
        if (await this.#store.get(CA_STATE_KEY)) continue;
        for await (const event of this.#store.watch(CA_STATE_KEY, from, {
          exact: true,
          ...(signal ? { signal } : {}),
        })) {
          if (event.type === 'resync' || event.changes.length > 0) break;
        }
        if (signal?.aborted) throw new ConflictError('stopped before the zone CA was installed');
        continue;
      }
      const created = await createCaState({
        trustDomain: this.#options.trustDomain,
        zone: this.#options.zone,
        sealer: this.#options.sealer,
        keyType: this.#options.keyType,
        provided: this.#options.provided,
      });
      const put = await this.#store.put(CA_STATE_KEY, Buffer.from(encodeCaState(created)), {
        cas: 0,
      });
      if (put.ok) {
        this.#logger.info(
          {
            rootId: created.activeRootId,
            trustDomain: created.trustDomain,
            source: created.roots[0]?.source,
          },
          'created the zone CA',
        );
        this.#install(created, put.entry.modifyIndex);
        return;
      }
      // Another replica created it first: use theirs.
    }
  }

  /**
   * Store the CA state zone sync built from global's answer (a first connection). Only
   * when none exists: a second zone replica that raced us keeps the first one's.
   * @returns whether this call installed it.
   */
  async installFederated(state: CaState): Promise<boolean> {
    const put = await this.#store.put(CA_STATE_KEY, Buffer.from(encodeCaState(state)), { cas: 0 });
    if (put.ok) {
      this.#logger.info(
        { rootId: state.activeRootId, trustDomain: state.trustDomain },
        'installed the zone CA from the global control plane',
      );
    }
    return put.ok;
  }

  /**
   * Sign with a zone intermediate global renewed (zone sync asked for it before the old one
   * expired): checked like the first one (signed by the active global root, scoped to this
   * zone, matching `key`), its key sealed, and the active root's intermediate replaced with
   * check-and-set. The roots do not change, so neither does the bundle version: leaves
   * signed before keep chaining to the same root, and leaves signed from now on (this
   * zone's control identity too) chain to the new intermediate.
   *
   * @throws InvalidArgumentError for an intermediate that fails the checks; ConflictError
   *   for a standalone zone.
   */
  async renewFederatedIntermediate(intermediatePem: string, key: KeyObject): Promise<CaState> {
    if (!this.#options.federated) {
      throw new ConflictError(
        "this zone's intermediate is its own root's, not global's: it is not renewed by global",
        'intermediatePem',
      );
    }
    const state = this.state;
    const previous = state.intermediates.find((i) => i.rootId === state.activeRootId);
    const next = await this.#update((state) =>
      replaceFederatedIntermediate(state, {
        intermediatePem,
        intermediateKey: key,
        sealer: this.#options.sealer,
      }),
    );
    const renewed = new X509Certificate(intermediatePem);
    this.#logger.info(
      {
        rootId: next.activeRootId,
        serial: normalizeSerial(renewed.serialNumber),
        ...(previous
          ? {
              previousSerial: normalizeSerial(
                new X509Certificate(previous.certificatePem).serialNumber,
              ),
            }
          : {}),
        notAfter: new Date(renewed.validTo).toISOString(),
      },
      'installed the zone intermediate global renewed',
    );
    return next;
  }

  /** Whether the CA state exists (a federated zone has joined). */
  async installed(): Promise<boolean> {
    return (await this.#store.get(CA_STATE_KEY)) !== null;
  }

  #install(state: CaState, index: number): void {
    if (state.trustDomain !== this.#options.trustDomain || state.zone !== this.#options.zone) {
      throw new ConflictError(
        `the store holds the CA of spiffe://${state.trustDomain}/zone/${state.zone}, not of spiffe://${this.#options.trustDomain}/zone/${this.#options.zone}`,
        'trustDomain',
      );
    }
    const signer = signingCa(state, this.#options.sealer);
    const changedBundle = this.#state?.bundleVersion !== state.bundleVersion;
    const changedSigner = this.#state?.activeRootId !== state.activeRootId;
    this.#state = state;
    this.#stateIndex = index;
    this.#signer = signer;
    if (changedBundle) this.#wake?.();
    if (changedBundle || changedSigner) for (const listener of this.#listeners) listener(state);
  }

  readonly #listeners = new Set<(state: CaState) => void>();

  /** Call `listener` when the trust bundle or the signing root changes; returns the unsubscribe. */
  onBundleChange(listener: (state: CaState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Sign a leaf for `spiffeId` (the identity the caller is entitled to) from its CSR.
   *
   * @throws RateLimitedError over the signing rate; InvalidArgumentError /
   *   PermissionDeniedError for a bad CSR (see core `validateCsr`).
   */
  async sign(csrPem: string, spiffeId: string): Promise<IssuedLeaf> {
    if (!this.#bucket.tryTake()) {
      const retryAfterMs = this.#bucket.msUntilNext();
      throw new RateLimitedError(
        `rate limit reached: this zone signs at most ${this.#options.signRatePerSecond} CSRs per second; retry after ${retryAfterMs} ms`,
        retryAfterMs,
      );
    }
    const state = this.state;
    const signer = this.#signer as SigningCa;
    for (let attempt = 0; ; attempt++) {
      const issuedAt = new Date(this.#now());
      const certificatePem = signLeafCertificate({
        issuer: signer,
        csrPem,
        spiffeId,
        validityMs: this.#options.leafTtlMs,
        now: issuedAt,
      });
      const cert = new X509Certificate(certificatePem);
      const serial = normalizeSerial(cert.serialNumber);
      const record: LeafRecord = {
        serial,
        spiffeId,
        rootId: signer.rootId,
        notAfter: new Date(cert.validTo).toISOString(),
        issuedAt: issuedAt.toISOString(),
      };
      // cas 0: create only. A serial that exists already (never seen with 128 random bits,
      // but a restart must not be able to repeat one) gets a fresh certificate.
      const put = await this.#store.put(
        CA_LEAF_PREFIX + serial,
        Buffer.from(JSON.stringify(record)),
        {
          cas: 0,
        },
      );
      if (!put.ok) {
        if (attempt < 3) continue;
        throw new ConflictError(`serial ${serial} is already taken`);
      }
      this.issuedSinceStart++;
      return {
        serial,
        spiffeId,
        certificatePem,
        chainPem: certificatePem + signer.chainPem,
        trustBundle: trustBundlePems(state),
        bundleVersion: state.bundleVersion,
        rootId: signer.rootId,
        notBefore: new Date(cert.validFrom),
        notAfter: new Date(cert.validTo),
        issuedAt,
        index: put.entry.modifyIndex,
      };
    }
  }

  /**
   * Record that `participant` (one `instance` of it) now trusts bundle `bundleVersion`,
   * and is alive.
   */
  async acknowledge(participant: string, bundleVersion: number, instance = ''): Promise<AckRecord> {
    if (bundleVersion > this.state.bundleVersion) {
      throw new ConflictError(
        `bundle version ${bundleVersion} does not exist yet (current: ${this.state.bundleVersion})`,
        'bundleVersion',
      );
    }
    const record: AckRecord = {
      participant,
      ...(instance ? { instance } : {}),
      bundleVersion,
      seenAt: new Date(this.#now()).toISOString(),
    };
    await this.#store.put(ackKey(participant, instance), Buffer.from(JSON.stringify(record)));
    return record;
  }

  /** Revoke a leaf this zone issued. @throws NotFoundError for an unknown or expired serial. */
  async revoke(serialInput: string, reason: string): Promise<RevocationRecord> {
    const serial = normalizeSerial(serialInput);
    const entry = await this.#store.get(CA_LEAF_PREFIX + serial);
    if (!entry) {
      throw new NotFoundError(
        `no unexpired leaf with serial ${serial} was issued by this zone`,
        'serial',
      );
    }
    const leaf = decodeRecord<LeafRecord>(entry.key, entry.value);
    const record: RevocationRecord = {
      serial,
      spiffeId: leaf.spiffeId,
      reason,
      revokedAt: new Date(this.#now()).toISOString(),
      notAfter: leaf.notAfter,
    };
    await this.#store.put(CA_REVOKED_PREFIX + serial, Buffer.from(JSON.stringify(record)));
    this.#logger.info({ serial, spiffeId: leaf.spiffeId, reason }, 'revoked a leaf');
    return record;
  }

  async revocations(): Promise<{ records: RevocationRecord[]; index: number }> {
    const listed = await this.#store.list(CA_REVOKED_PREFIX);
    const now = this.#now();
    const records = listed.entries
      .map((e) => decodeRecord<RevocationRecord>(e.key, e.value))
      .filter((r) => Date.parse(r.notAfter) > now);
    return { records, index: listed.index };
  }

  async leaves(): Promise<LeafRecord[]> {
    const listed = await this.#store.list(CA_LEAF_PREFIX);
    return listed.entries.map((e) => decodeRecord<LeafRecord>(e.key, e.value));
  }

  async ackProgress(): Promise<AckProgress> {
    const state = this.state;
    const target =
      state.rotation && state.rotation.phase !== 'complete'
        ? state.rotation.bundleVersion
        : state.bundleVersion;
    const listed = await this.#store.list(CA_ACK_PREFIX);
    const progress: AckProgress = {
      zone: state.zone,
      bundleVersion: target,
      acked: [],
      pending: [],
      stale: [],
    };
    const now = this.#now();
    for (const entry of listed.entries) {
      const ack = decodeRecord<AckRecord>(entry.key, entry.value);
      const fresh = now - Date.parse(ack.seenAt) <= this.#options.participantTtlMs;
      const name = participantName(ack);
      if (ack.bundleVersion >= target) progress.acked.push(name);
      else (fresh ? progress.pending : progress.stale).push(name);
    }
    for (const list of [progress.acked, progress.pending, progress.stale]) list.sort();
    return progress;
  }

  /** Start a root rotation to a generated root (or `provided`). */
  async rotate(options: { keyType?: KeyType; provided?: ProvidedCa } = {}): Promise<CaState> {
    if (this.#options.federated) {
      throw new ConflictError(
        "this zone's root belongs to the global control plane: rotate it there, not in a zone",
        'rotation',
      );
    }
    return this.#update((state) =>
      startRotation(state, {
        sealer: this.#options.sealer,
        keyType: options.keyType ?? this.#options.keyType,
        provided: options.provided,
        now: new Date(this.#now()),
      }),
    );
  }

  /**
   * End phase `phase` now, without waiting for its condition (acks, old leaves) — for an
   * operator who knows the stragglers are gone. `phase` must be the current one, so a
   * repeated request cannot skip two phases.
   */
  async advance(phase: number): Promise<CaState> {
    return this.#update((state) => {
      const current = state.rotation?.phase;
      if (current !== phase) {
        throw new ConflictError(
          `the rotation is in phase ${current ?? 'none'}, not ${phase}`,
          'phase',
        );
      }
      return this.#nextPhase(state, true);
    });
  }

  #nextPhase(state: CaState, forced: boolean): Promise<CaState> | CaState {
    const now = new Date(this.#now());
    if (state.rotation?.phase === 2) {
      return switchSigning(state, {
        sealer: this.#options.sealer,
        keyType: this.#options.keyType,
        now,
        forced,
      });
    }
    return retireOldRoot(state, { now, forced });
  }

  /** Apply `change` to the current state with check-and-set; retries after a lost race. */
  async #update(change: (state: CaState) => Promise<CaState> | CaState): Promise<CaState> {
    for (let attempt = 0; ; attempt++) {
      const entry = await this.#store.get(CA_STATE_KEY);
      if (!entry) throw new NotFoundError('the CA state is missing from the store');
      const next = await change(decodeCaState(entry.value));
      const put = await this.#store.put(CA_STATE_KEY, Buffer.from(encodeCaState(next)), {
        cas: entry.modifyIndex,
      });
      if (put.ok) {
        this.#install(next, put.entry.modifyIndex);
        return next;
      }
      if (attempt >= 5) throw new ConflictError('the CA state kept changing; try again');
    }
  }

  /**
   * Call `onChange` after every change under `prefix` (by any replica), for as long as
   * the zone runs. After a resync (history no longer held, e.g. after a restart) the watch
   * goes on from the current index, not from the stale one, and `onChange` runs once.
   */
  async #follow(
    prefix: string,
    exact: boolean,
    from: number,
    onChange: () => Promise<void> | void,
    signal: AbortSignal,
  ): Promise<void> {
    while (!signal.aborted) {
      try {
        for await (const event of this.#store.watch(prefix, from, { exact, signal })) {
          if (event.type === 'resync') break;
          from = event.index;
          await onChange();
        }
        if (signal.aborted) return;
        from = await this.#store.currentIndex();
        await onChange();
      } catch (err) {
        if (signal.aborted) return;
        this.#logger.warn({ err: String(err), prefix }, 'CA watch failed; retrying');
        await sleep(1000, signal);
      }
    }
  }

  readonly #revocationListeners = new Set<() => void>();

  /** Call `listener` when a leaf is revoked (or a revocation expires); returns the unsubscribe. */
  onRevocationChange(listener: () => void): () => void {
    this.#revocationListeners.add(listener);
    return () => this.#revocationListeners.delete(listener);
  }

  /** Catch up with the stored state now (a blocked read woke on a change to it). */
  refresh(): Promise<void> {
    return this.#reloadIfNewer();
  }

  /** Whether a leaf this zone issued has been revoked. */
  async isRevoked(serial: string): Promise<boolean> {
    return (await this.#store.get(CA_REVOKED_PREFIX + normalizeSerial(serial))) !== null;
  }

  async #reloadIfNewer(): Promise<void> {
    const entry = await this.#store.get(CA_STATE_KEY);
    if (entry && entry.modifyIndex > this.#stateIndex) {
      this.#install(decodeCaState(entry.value), entry.modifyIndex);
    }
  }

  /**
   * The rotation driver and pruner: the zone acknowledges each bundle it loads, moves a
   * rotation on when its phase's condition holds, and drops expired leaf and revocation
   * records.
   */
  async #drive(signal: AbortSignal): Promise<void> {
    const tickMs = this.#options.tickMs ?? 1000;
    let ackedVersion = 0;
    let ackedAt = 0;
    while (!signal.aborted) {
      try {
        const state = this.state;
        const now = this.#now();
        // The zone itself is a participant: it serves the bundle to its proxies.
        if (
          state.bundleVersion !== ackedVersion ||
          now - ackedAt > this.#options.participantTtlMs / 3
        ) {
          await this.acknowledge(this.controlSpiffeId, state.bundleVersion);
          ackedVersion = state.bundleVersion;
          ackedAt = now;
        }
        await this.#reconcile();
        await this.#prune();
      } catch (err) {
        if (signal.aborted) return;
        this.#logger.warn({ err: String(err) }, 'CA rotation step failed; retrying');
      }
      const woken = new AbortController();
      this.#wake = () => woken.abort();
      await sleep(tickMs, AbortSignal.any([signal, woken.signal]));
      this.#wake = undefined;
    }
  }

  async #reconcile(): Promise<void> {
    const rotation = this.state.rotation;
    if (!rotation || rotation.phase === 'complete') return;
    if (rotation.phase === 2) {
      const progress = await this.ackProgress();
      if (progress.pending.length > 0) return;
      this.#logger.info(
        { rotation: rotation.id, acked: progress.acked.length },
        'every participant trusts the new root; switching signing',
      );
      await this.#update((state) =>
        state.rotation?.phase === 2 ? this.#nextPhase(state, false) : state,
      );
    } else if (rotation.phase === 4) {
      const remaining = await this.oldLeavesRemaining();
      if (remaining.count > 0) return;
      this.#logger.info(
        { rotation: rotation.id },
        'the last leaf under the old root expired; retiring it',
      );
      await this.#update((state) =>
        state.rotation?.phase === 4 ? this.#nextPhase(state, false) : state,
      );
    }
  }

  /** Unexpired leaves under the rotation's old root, and when the last one expires. */
  async oldLeavesRemaining(): Promise<{ count: number; lastExpiresAt: string | undefined }> {
    const from = this.state.rotation?.fromRootId;
    const now = this.#now();
    let count = 0;
    let last = 0;
    for (const leaf of await this.leaves()) {
      const expires = Date.parse(leaf.notAfter);
      if (leaf.rootId !== from || expires <= now) continue;
      count++;
      last = Math.max(last, expires);
    }
    return { count, lastExpiresAt: count > 0 ? new Date(last).toISOString() : undefined };
  }

  #lastPrune = 0;

  async #prune(): Promise<void> {
    const now = this.#now();
    if (now - this.#lastPrune < 60_000) return;
    this.#lastPrune = now;
    for (const prefix of [CA_LEAF_PREFIX, CA_REVOKED_PREFIX]) {
      const listed = await this.#store.list(prefix);
      for (const entry of listed.entries) {
        const record = decodeRecord<{ notAfter: string }>(entry.key, entry.value);
        if (Date.parse(record.notAfter) <= now) {
          await this.#store.delete(entry.key, { cas: entry.modifyIndex });
        }
      }
    }
  }
}

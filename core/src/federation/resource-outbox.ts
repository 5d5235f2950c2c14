/**
 * The sending half of zone sync for one peer: for each resource type, it reads the
 * current set from a source, sends what changed since the peer's last acknowledged
 * revision as a `delta`, and waits for the ACK before sending the next one (one delta in
 * flight per type, like ADS). The peer's acknowledged state outlives a connection
 * ({@link PeerMemory}), so a reconnect resumes with a delta from the revision the peer
 * says it has; when that revision is unknown here (this process restarted, or the peer
 * lost its store), the whole set goes with `full: true`.
 *
 * A NACK keeps the peer on what it had; the outbox forgets its base (the next send is a
 * full set) and retries with backoff, so a fixed bug on either side heals by itself.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from '../logging.ts';
import type { ResourceType } from './resources.ts';
import { MAX_DELTA_ITEMS, MAX_SYNC_FRAME_BYTES } from './sync-messages.ts';
import type { AckMessage, DeltaMessage, NackMessage, ResourceItem } from './sync-messages.ts';

/** Reads the current set of one type: name → body. */
export type ResourceReader = () => Promise<ReadonlyMap<string, unknown>>;

/** What a peer has acknowledged, kept across its connections (in this process). */
export class PeerMemory {
  /** Random per process and peer, so revisions from an earlier process never match. */
  readonly epoch = randomBytes(6).toString('base64url');
  counter = 0;
  readonly acked = new Map<ResourceType, { revision: string; versions: Map<string, string> }>();
}

export interface OutboxOptions<T extends ResourceType> {
  readers: Record<T, ResourceReader>;
  send: (frame: DeltaMessage<T>) => void;
  memory: PeerMemory;
  /**
   * The types the peer takes (from its hello or welcome); others are not sent, so a peer
   * of an older version, which does not know a newer type, keeps syncing the rest.
   * @default every type with a reader
   */
  accepts?: readonly ResourceType[];
  /**
   * Name prefixes the receiver must keep even when a full set lacks them: what this side
   * does not know yet (e.g. zones global has not heard from since it restarted).
   */
  retain?: (type: T) => string[];
  logger: Logger;
  now?: () => number;
  /** @default 1000 */
  retryBaseMs?: number;
  /** @default 30000 */
  retryMaxMs?: number;
}

interface Inflight {
  nonces: Set<string>;
  lastNonce: string;
  revision: string;
  versions: Map<string, string>;
  sentAt: number;
}

interface TypeState {
  inflight?: Inflight;
  /** A change arrived while a delta was in flight (or sending): send again after it. */
  dirty: boolean;
  /** The peer's base is unknown: the next send is a full set. */
  needFull: boolean;
  sending: boolean;
  /** Time of the first change not yet acknowledged (for lag). */
  pendingSince?: number;
  retries: number;
  retryTimer?: NodeJS.Timeout;
  lastNack?: { message: string; resource?: string; at: number };
  lastAckAt?: number;
}

/** A stable JSON text (keys sorted), so equal bodies hash to equal versions. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export function resourceVersion(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('base64url').slice(0, 22);
}

/**
 * Versions of bodies already hashed, by identity. Readers that keep a resource's body
 * object until it changes (the global's KV and policy indexes) get each hashed once, not
 * once per change per zone: hashing every global KV value (up to 512 KiB each) for every
 * zone on every write would stall the event loop. A reader must therefore never change a
 * body object it has handed out (they replace it instead).
 */
const hashedVersions = new WeakMap<object, string>();

function versionOf(body: unknown): string {
  if (typeof body !== 'object' || body === null) return resourceVersion(body);
  let version = hashedVersions.get(body);
  if (version === undefined) {
    version = resourceVersion(body);
    hashedVersions.set(body, version);
  }
  return version;
}

export class ResourceOutbox<T extends ResourceType> {
  readonly #types: T[];
  readonly #state = new Map<T, TypeState>();
  readonly #now: () => number;
  #closed = false;

  constructor(private readonly options: OutboxOptions<T>) {
    const accepted = options.accepts;
    this.#types = (Object.keys(options.readers) as T[]).filter(
      (type) => accepted === undefined || accepted.includes(type),
    );
    this.#now = options.now ?? Date.now;
    for (const type of this.#types)
      this.#state.set(type, { dirty: false, needFull: false, sending: false, retries: 0 });
  }

  /** Begin a session: the peer says which revision of each type it holds. Sends everything due. */
  start(resume: Partial<Record<T, string>>): void {
    for (const type of this.#types) {
      const state = this.#typeState(type);
      const acked = this.options.memory.acked.get(type);
      const theirs = resume[type];
      state.needFull = !(acked && theirs !== undefined && acked.revision === theirs);
      if (state.needFull) this.options.memory.acked.delete(type);
      this.changed(type);
    }
  }

  /** The source of `type` changed: send a delta once nothing is in flight. */
  changed(type: T): void {
    // A type the peer does not take is not sent.
    if (!this.#types.includes(type) && type in this.options.readers) return;
    const state = this.#typeState(type);
    state.pendingSince ??= this.#now();
    if (this.#closed) return;
    if (state.inflight || state.sending || state.retryTimer) {
      state.dirty = true;
      return;
    }
    state.sending = true;
    state.dirty = false;
    this.#send(type, state)
      .catch((err: unknown) => {
        this.options.logger.warn(
          { err: String(err), resourceType: type },
          'reading resources to sync failed; retrying',
        );
        this.#retryLater(type, state);
      })
      .finally(() => {
        state.sending = false;
        if (state.dirty && !state.inflight && !state.retryTimer) this.changed(type);
      });
  }

  onAck(ack: AckMessage): void {
    const type = ack.resourceType as T;
    const state = this.#state.get(type);
    const inflight = state?.inflight;
    // An ACK for an older nonce says nothing about the newest push (xDS's rule).
    if (
      !state ||
      !inflight ||
      ack.nonce !== inflight.lastNonce ||
      ack.revision !== inflight.revision
    )
      return;
    this.options.memory.acked.set(type, {
      revision: inflight.revision,
      versions: inflight.versions,
    });
    state.inflight = undefined;
    state.needFull = false;
    state.retries = 0;
    state.lastAckAt = this.#now();
    if (state.dirty) this.changed(type);
    else state.pendingSince = undefined;
  }

  onNack(nack: NackMessage): void {
    const type = nack.resourceType as T;
    const state = this.#state.get(type);
    if (!state?.inflight || !state.inflight.nonces.has(nack.nonce)) return;
    this.options.logger.warn(
      { resourceType: type, resource: nack.resource, reason: nack.message },
      'the peer refused a sync delta; it keeps what it had, resending the full set later',
    );
    state.lastNack = { message: nack.message, resource: nack.resource, at: this.#now() };
    state.inflight = undefined;
    state.needFull = true;
    this.options.memory.acked.delete(type);
    this.#retryLater(type, state);
  }

  /** Stop sending (the connection closed). In-flight deltas count as lost. */
  close(): void {
    this.#closed = true;
    for (const state of this.#state.values()) {
      clearTimeout(state.retryTimer);
      state.retryTimer = undefined;
      state.inflight = undefined;
    }
  }

  /** How long the oldest change not yet acknowledged has waited, in ms (0 when caught up). */
  lagMs(): number {
    let oldest: number | undefined;
    for (const state of this.#state.values()) {
      if (
        state.pendingSince !== undefined &&
        (oldest === undefined || state.pendingSince < oldest)
      ) {
        oldest = state.pendingSince;
      }
    }
    return oldest === undefined ? 0 : this.#now() - oldest;
  }

  /** When the peer last acknowledged anything (ms since the epoch). */
  lastAckAt(): number | undefined {
    let last: number | undefined;
    for (const state of this.#state.values()) {
      if (state.lastAckAt !== undefined && (last === undefined || state.lastAckAt > last))
        last = state.lastAckAt;
    }
    return last;
  }

  lastNack(): { resourceType: T; message: string; resource?: string; at: number } | undefined {
    let last: { resourceType: T; message: string; resource?: string; at: number } | undefined;
    for (const [type, state] of this.#state) {
      if (state.lastNack && (!last || state.lastNack.at > last.at))
        last = { resourceType: type, ...state.lastNack };
    }
    return last;
  }

  #typeState(type: T): TypeState {
    const state = this.#state.get(type);
    if (!state) throw new Error(`no reader for resource type ${type}`);
    return state;
  }

  #retryLater(type: T, state: TypeState): void {
    if (this.#closed) return;
    const base = this.options.retryBaseMs ?? 1000;
    const delay = Math.min(this.options.retryMaxMs ?? 30_000, base * 2 ** state.retries);
    state.retries++;
    state.dirty = true;
    clearTimeout(state.retryTimer);
    state.retryTimer = setTimeout(() => {
      state.retryTimer = undefined;
      this.changed(type);
    }, delay);
    state.retryTimer.unref();
  }

  async #send(type: T, state: TypeState): Promise<void> {
    const current = await this.options.readers[type]();
    if (this.#closed) return;
    const versions = new Map<string, string>();
    const bodies = new Map<string, unknown>();
    for (const [name, body] of current) {
      versions.set(name, versionOf(body));
      bodies.set(name, body);
    }
    const full = state.needFull;
    const base = full ? undefined : this.options.memory.acked.get(type);
    const upserts: ResourceItem[] = [];
    const removes: string[] = [];
    for (const [name, version] of versions) {
      if (base?.versions.get(name) !== version)
        upserts.push({ name, version, body: bodies.get(name) });
    }
    if (base) for (const name of base.versions.keys()) if (!versions.has(name)) removes.push(name);
    if (!full && upserts.length === 0 && removes.length === 0) {
      state.pendingSince = undefined;
      return;
    }
    const memory = this.options.memory;
    const revision = `${memory.epoch}.${++memory.counter}`;
    const chunks = chunk(upserts, removes);
    const inflight: Inflight = {
      nonces: new Set(),
      lastNonce: '',
      revision,
      versions,
      sentAt: this.#now(),
    };
    state.inflight = inflight;
    chunks.forEach((part, i) => {
      const nonce = randomBytes(9).toString('base64url');
      inflight.nonces.add(nonce);
      inflight.lastNonce = nonce;
      this.options.send({
        type: 'delta',
        resourceType: type,
        nonce,
        revision,
        baseRevision: base?.revision ?? '',
        full,
        retain: full ? (this.options.retain?.(type) ?? []) : [],
        more: i < chunks.length - 1,
        chunk: i,
        upserts: part.upserts,
        removes: part.removes,
      });
    });
  }
}

/** Split a change so every frame stays under the item and byte limits. */
function chunk(
  upserts: ResourceItem[],
  removes: string[],
): { upserts: ResourceItem[]; removes: string[] }[] {
  const budget = MAX_SYNC_FRAME_BYTES / 2;
  const parts: { upserts: ResourceItem[]; removes: string[] }[] = [];
  let part = { upserts: [] as ResourceItem[], removes: [] as string[] };
  let bytes = 0;
  const flush = (): void => {
    parts.push(part);
    part = { upserts: [], removes: [] };
    bytes = 0;
  };
  for (const item of upserts) {
    const size = JSON.stringify(item).length;
    if (
      part.upserts.length + part.removes.length >= MAX_DELTA_ITEMS ||
      (bytes > 0 && bytes + size > budget)
    )
      flush();
    part.upserts.push(item);
    bytes += size;
  }
  for (const name of removes) {
    if (part.upserts.length + part.removes.length >= MAX_DELTA_ITEMS) flush();
    part.removes.push(name);
  }
  parts.push(part);
  return parts;
}

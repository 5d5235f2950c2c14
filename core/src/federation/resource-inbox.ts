/**
 * The receiving half of zone sync: applies a peer's deltas to this side's store and
 * answers each with an ACK or a NACK.
 *
 * - Every upsert is validated before anything is written; one bad resource refuses the
 *   whole delta (NACK naming it) and the store keeps what it had.
 * - Unchanged resources (same version) are not rewritten, so a full resync after a
 *   reconnect wakes no watcher: a reconnect never looks like a change, let alone a
 *   deletion.
 * - Writes go in transactions of at most {@link MAX_TXN_OPS} operations; the applied
 *   revision is written with the last of them. A crash part way leaves the old revision
 *   recorded, so the peer resends from there: each resource is whole, and nothing the
 *   peer still has is removed.
 * - A delta relative to a revision other than the one applied is refused: the sender
 *   then sends its full set.
 */
import { InvalidArgumentError, isCausewayError } from '../errors.ts';
import type { Logger } from '../logging.ts';
import { MAX_TXN_OPS } from '../store/types.ts';
import type { Store, TxnOp } from '../store/types.ts';
import type { ResourceType, StoredResource } from './resources.ts';
import type { AckMessage, DeltaMessage, NackMessage } from './sync-messages.ts';

/** Checks one body; throws InvalidArgumentError naming the field. */
export type ResourceValidator = (name: string, body: unknown) => void;

/**
 * Writes that mirror one type's resources somewhere else in the store (a zone keeps
 * global KV under `kv/<key>`, where its KV API reads it), made in the same transaction
 * as the resource itself, so the mirror never disagrees with what was acknowledged.
 */
export interface ResourceProjection {
  /** Ops that mirror a resource being written (its body is already validated). */
  upsert(name: string, body: unknown): TxnOp[] | Promise<TxnOp[]>;
  /** Ops that remove the mirror of a resource being deleted (still in the store). */
  remove(name: string): Promise<TxnOp[]>;
  /**
   * What the resource's own record keeps of the body when the mirror holds the rest: a
   * KV value may be 512 KiB, the store's limit for one value, so a record holding it as
   * base64 beside the mirror would not fit. @default the whole body
   */
  record?(body: unknown): unknown;
}

export interface InboxOptions<T extends ResourceType> {
  store: Store;
  /** Where resources of `type` live: `<prefix><name>`. */
  prefix: (type: T) => string;
  /** Where the applied revision of `type` is recorded. */
  revisionKey: (type: T) => string;
  validators: Record<T, ResourceValidator>;
  /** Mirrors of some types' resources, written with them. */
  projections?: Partial<Record<T, ResourceProjection>>;
  /**
   * Checks put at the head of every transaction of a delta (global: the zone's record is
   * still the one read, so a session racing its zone's deletion cannot write after it).
   * A failed guard refuses the delta (NACK) and the store keeps what it had.
   */
  guard?: () => Promise<TxnOp[]>;
  logger: Logger;
  now?: () => number;
}

interface Pending {
  revision: string;
  /** The chunk expected next. */
  nextChunk: number;
  /** Names a full set carried so far (chunks with `more`). */
  seen: Set<string>;
  full: boolean;
  retain: string[];
}

export class ResourceInbox<T extends ResourceType> {
  /** Applied versions by type and name, loaded from the store on first use. */
  readonly #versions = new Map<T, Map<string, string>>();
  readonly #revisions = new Map<T, string>();
  readonly #pending = new Map<T, Pending>();
  readonly #now: () => number;
  /** Deltas are applied one at a time, in arrival order. */
  #queue: Promise<unknown> = Promise.resolve();
  /** Bumped by {@link reset}: deltas queued by a closed connection are dropped. */
  #generation = 0;

  constructor(private readonly options: InboxOptions<T>) {
    this.#now = options.now ?? Date.now;
  }

  get types(): T[] {
    return Object.keys(this.options.validators) as T[];
  }

  /** The applied revision of each type, for the peer to resume from. */
  async resume(): Promise<Partial<Record<T, string>>> {
    const out: Partial<Record<T, string>> = {};
    for (const type of this.types) {
      const revision = await this.#revision(type);
      if (revision) out[type] = revision;
    }
    return out;
  }

  /** Apply a delta (queued behind any being applied); the answer for the peer. */
  apply(delta: DeltaMessage): Promise<AckMessage | NackMessage | undefined> {
    const generation = this.#generation;
    const run = this.#queue.then(() =>
      generation === this.#generation ? this.#apply(delta as DeltaMessage<T>) : undefined,
    );
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Forget chunked deltas of a connection that closed, and drop its queued ones. */
  reset(): void {
    this.#generation++;
    this.#pending.clear();
  }

  async #apply(delta: DeltaMessage<T>): Promise<AckMessage | NackMessage | undefined> {
    const type = delta.resourceType;
    const nack = (message: string, resource?: string): NackMessage => ({
      type: 'nack',
      resourceType: type,
      nonce: delta.nonce,
      ...(resource === undefined ? {} : { resource }),
      message,
    });
    const validator = this.options.validators[type];
    if (!validator) return nack(`this side does not accept ${type} resources`);
    let pending = this.#pending.get(type);
    if (delta.chunk > 0) {
      // A later chunk only continues the set whose previous chunk was applied just now.
      if (pending?.revision !== delta.revision || pending.nextChunk !== delta.chunk) {
        this.#pending.delete(type);
        return nack(
          `chunk ${delta.chunk} of revision ${delta.revision} came without the chunks before it; send the set again`,
        );
      }
    } else {
      // A first chunk starts a new revision; an unfinished one is void.
      this.#pending.delete(type);
      pending = undefined;
      if (!delta.full && delta.baseRevision !== (await this.#revision(type))) {
        return nack(
          `delta is based on revision ${delta.baseRevision}, but this side applied ${(await this.#revision(type)) ?? 'nothing'}; send the full set`,
        );
      }
    }
    for (const item of delta.upserts) {
      try {
        validator(item.name, item.body);
      } catch (err) {
        this.#pending.delete(type);
        const message = isCausewayError(err) ? err.message : String(err);
        const field = isCausewayError(err) && err.field ? ` (field ${err.field})` : '';
        return nack(`${type} ${item.name}: ${message}${field}`, item.name);
      }
    }
    pending ??= {
      revision: delta.revision,
      nextChunk: 0,
      seen: new Set(),
      full: delta.full,
      retain: delta.retain,
    };
    pending.nextChunk = delta.chunk + 1;
    this.#pending.set(type, pending);
    const versions = await this.#loaded(type);
    const prefix = this.options.prefix(type);
    const projection = this.options.projections?.[type];
    const receivedAt = new Date(this.#now()).toISOString();
    // One group per resource: its own write and its mirror's go in the same transaction.
    const groups: TxnOp[][] = [];
    const applied = new Map<string, string | undefined>();
    const remove = async (name: string): Promise<void> => {
      groups.push([
        { op: 'delete', key: prefix + name },
        ...((await projection?.remove(name)) ?? []),
      ]);
      applied.set(name, undefined);
    };
    for (const item of delta.upserts) {
      pending.seen.add(item.name);
      if (versions.get(item.name) === item.version) continue;
      const body = projection?.record ? projection.record(item.body) : item.body;
      const stored: StoredResource = { version: item.version, body, receivedAt };
      groups.push([
        { op: 'set', key: prefix + item.name, value: Buffer.from(JSON.stringify(stored)) },
        ...((await projection?.upsert(item.name, item.body)) ?? []),
      ]);
      applied.set(item.name, item.version);
    }
    for (const name of delta.removes) {
      if (versions.has(name)) await remove(name);
    }
    if (!delta.more && pending.full) {
      for (const name of versions.keys()) {
        if (pending.seen.has(name) || applied.has(name)) continue;
        if (pending.retain.some((p) => name.startsWith(p))) continue;
        await remove(name);
      }
    }
    if (!delta.more) {
      groups.push([
        { op: 'set', key: this.options.revisionKey(type), value: Buffer.from(delta.revision) },
      ]);
    }
    try {
      await this.#write(groups);
    } catch (err) {
      // The cache may be off now: reload from the store before the next delta.
      this.#versions.delete(type);
      this.#revisions.delete(type);
      this.#pending.delete(type);
      this.options.logger.warn(
        { err: String(err), resourceType: type },
        'applying a sync delta failed',
      );
      return nack(`could not store the delta: ${err instanceof Error ? err.message : String(err)}`);
    }
    for (const [name, version] of applied) {
      if (version === undefined) versions.delete(name);
      else versions.set(name, version);
    }
    if (delta.more) return undefined;
    this.#pending.delete(type);
    this.#revisions.set(type, delta.revision);
    return { type: 'ack', resourceType: type, nonce: delta.nonce, revision: delta.revision };
  }

  /** Write the groups in transactions of at most MAX_TXN_OPS ops, never splitting a group. */
  async #write(groups: TxnOp[][]): Promise<void> {
    const guard = (await this.options.guard?.()) ?? [];
    let batch: TxnOp[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const result = await this.options.store.txn([...guard, ...batch]);
      batch = [];
      if (!result.ok) {
        throw new InvalidArgumentError(result.errors.map((e) => e.what).join('; '));
      }
    };
    for (const group of groups) {
      if (guard.length + batch.length + group.length > MAX_TXN_OPS) await flush();
      batch.push(...group);
    }
    await flush();
  }

  async #revision(type: T): Promise<string | undefined> {
    if (!this.#revisions.has(type)) {
      const entry = await this.options.store.get(this.options.revisionKey(type));
      if (entry) this.#revisions.set(type, entry.value.toString());
    }
    return this.#revisions.get(type);
  }

  async #loaded(type: T): Promise<Map<string, string>> {
    let versions = this.#versions.get(type);
    if (versions) return versions;
    versions = new Map();
    const prefix = this.options.prefix(type);
    const { entries } = await this.options.store.list(prefix);
    for (const entry of entries) {
      try {
        const stored = JSON.parse(entry.value.toString()) as StoredResource;
        versions.set(entry.key.slice(prefix.length), String(stored.version));
      } catch {
        // An unreadable record gets rewritten by the next upsert or removed by a full set.
        versions.set(entry.key.slice(prefix.length), '');
      }
    }
    this.#versions.set(type, versions);
    return versions;
  }
}

/** Read every stored resource of a prefix: name → body. Unreadable records are skipped. */
export async function readStoredResources<B>(
  store: Store,
  prefix: string,
  onError?: (key: string, err: unknown) => void,
): Promise<Map<string, StoredResource<B>>> {
  const out = new Map<string, StoredResource<B>>();
  const { entries } = await store.list(prefix);
  for (const entry of entries) {
    try {
      out.set(
        entry.key.slice(prefix.length),
        JSON.parse(entry.value.toString()) as StoredResource<B>,
      );
    } catch (err) {
      onError?.(entry.key, err);
    }
  }
  return out;
}

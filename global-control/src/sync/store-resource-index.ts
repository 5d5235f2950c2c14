/**
 * Resources global sends every zone alike (global KV, global policies), held in memory
 * and kept current by one store watch on their prefix, so each zone's outbox reads a map
 * instead of the store. Listeners hear of changes debounced (a burst of writes becomes one
 * delta per zone), as with `MeshIndex`.
 *
 * Nothing is sent before the first read of the store: a full set sent from an empty index
 * would tell every zone to drop what it holds.
 */
import { isCausewayError, sleep } from '../../../core/index.ts';
import type { Entry, Logger, Store } from '../../../core/index.ts';

/** How the entries under one store prefix become resources. */
export interface StoreResourceMapping<T> {
  /** The store prefix followed. */
  prefix: string;
  /** The resource an entry is, or undefined when it is none (left out). */
  resource(entry: Entry): { name: string; body: T } | undefined;
  /** The resource name of a deleted key. */
  nameOf(key: string): string;
}

export class StoreResourceIndex<T> {
  #resources = new Map<string, T>();
  readonly #listeners = new Set<() => void>();
  #markLoaded!: () => void;
  readonly #whenLoaded = new Promise<void>((resolve) => (this.#markLoaded = resolve));
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly mapping: StoreResourceMapping<T>,
    private readonly logger: Logger,
    /** Quiet time after a change before listeners hear of it. @default 20 */
    private readonly debounceMs = 20,
  ) {}

  /** Call `listener` (debounced) whenever a resource changes. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The resources by name (a copy: an outbox may read it across an await). */
  resources(): Map<string, T> {
    return new Map(this.#resources);
  }

  /** Resolves once the store has been read. */
  whenLoaded(): Promise<void> {
    return this.#whenLoaded;
  }

  /** Load the resources, then follow changes until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    try {
      await this.#follow(signal);
    } finally {
      // Stopped: nobody is left to tell.
      clearTimeout(this.#timer);
    }
  }

  async #follow(signal: AbortSignal): Promise<void> {
    const { prefix } = this.mapping;
    while (!signal.aborted) {
      try {
        const { entries, index } = await this.store.list(prefix);
        this.#resources = new Map();
        for (const entry of entries) this.#put(entry);
        this.#markLoaded();
        this.#notify();
        for await (const event of this.store.watch(prefix, index, { signal })) {
          // Changes were missed: read everything again.
          if (event.type === 'resync') break;
          let changed = false;
          for (const change of event.changes) {
            changed =
              (change.op === 'put'
                ? this.#put(change.entry)
                : this.#resources.delete(this.mapping.nameOf(change.key))) || changed;
          }
          if (changed) this.#notify();
        }
      } catch (err) {
        if (signal.aborted) return;
        if (isCausewayError(err) && err.code === 'CW_ERR_CLOSED') return;
        this.logger.warn({ err: String(err), prefix }, 'following the store failed; retrying');
        await sleep(1000, signal);
      }
    }
  }

  /** True when `entry` is a resource (and so was indexed). */
  #put(entry: Entry): boolean {
    const resource = this.mapping.resource(entry);
    if (!resource) return false;
    this.#resources.set(resource.name, resource.body);
    return true;
  }

  #notify(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      for (const listener of this.#listeners) listener();
    }, this.debounceMs);
    this.#timer.unref();
  }
}

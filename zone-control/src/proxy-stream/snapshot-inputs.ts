/**
 * What every proxy's snapshot is built from — the catalog, the config entries, and what
 * zone sync stored about other zones (`sync/global/remote-service/`,
 * `sync/global/remote-gateway/`) — read once per change and shared by every session, and
 * the watch that says when to rebuild.
 *
 * Changes to the catalog and config entries are debounced (`debounceMs` after the last
 * one, but at most `4 × debounceMs` after the first, so a steady trickle of writes still
 * pushes): a deploy that registers 50 instances costs one rebuild, not 50. Zone sync's
 * records wait only `syncDebounceMs` (by the same rule): they were debounced where they
 * came from — the other zone's sync client and global each wait for a quiet spell before
 * sending — and each delta is stored in one transaction, so a full local debounce would
 * only add its length to every cross-zone change (50 ms of the 250 ms an endpoint change
 * in one zone may take to reach a thousand proxies in another). The short wait folds the
 * `remote-service` and `remote-gateway` halves of one delta, which arrive on two watches.
 * Whichever pending change is due first triggers the rebuild, which covers them all.
 * Global KV and policies, also under `sync/global/`, are not watched: no snapshot reads
 * them, and a busy global KV must not cost every proxy a rebuild.
 *
 * Each of the three inputs is read again only after a change under its own prefixes: an
 * endpoint change in another zone (a `remote-service` record) reuses the catalog, whose
 * decoding — every node, instance and check, a thousand proxies' worth — was the first
 * thing between zone sync storing the change and any proxy getting it.
 */
import { isCausewayError, readCatalog, readConfigEntrySet, sleep } from '../../../core/index.ts';
import type { CatalogSnapshot, ConfigEntrySet, Logger, Store } from '../../../core/index.ts';
import {
  REMOTE_GATEWAY_PREFIX,
  REMOTE_SERVICE_PREFIX,
  readRemoteResources,
} from './remote-resources.ts';
import type { RemoteResources } from './remote-resources.ts';
import type { SnapshotInputs } from './snapshot-builder.ts';

/** The inputs read from the store, each on its own. */
interface Parts {
  catalog: CatalogSnapshot;
  entries: ConfigEntrySet;
  remotes: RemoteResources;
}

/** Written here (debounced) or by zone sync (debounced upstream already). */
type Origin = 'local' | 'synced';

/** Which input a change under each watched prefix makes stale, and where it comes from. */
const WATCHED: readonly { prefix: string; part: keyof Parts; origin: Origin }[] = [
  { prefix: 'catalog/', part: 'catalog', origin: 'local' },
  { prefix: 'config/', part: 'entries', origin: 'local' },
  { prefix: REMOTE_SERVICE_PREFIX, part: 'remotes', origin: 'synced' },
  { prefix: REMOTE_GATEWAY_PREFIX, part: 'remotes', origin: 'synced' },
];

export class SnapshotInputSource {
  #cached: Promise<SnapshotInputs> | undefined;
  /** Each input as last read (or being read); dropped by a change under its prefixes. */
  readonly #parts = new Map<keyof Parts, Promise<Parts[keyof Parts]>>();
  #timer: NodeJS.Timeout | undefined;
  /** The changes of each origin since the last rebuild: when the first came, when due. */
  readonly #pending = new Map<Origin, { firstAt: number; dueAt: number }>();
  readonly #waitMs: Record<Origin, number>;

  /**
   * @param debounceMs - quiet time after a catalog or config entry change.
   * @param syncDebounceMs - quiet time after a change zone sync stored (at most `debounceMs`).
   */
  constructor(
    private readonly store: Store,
    private readonly zone: string,
    private readonly trustDomain: () => string,
    private readonly logger: Logger,
    debounceMs: number,
    syncDebounceMs = debounceMs,
  ) {
    this.#waitMs = { local: debounceMs, synced: Math.min(syncDebounceMs, debounceMs) };
  }

  /**
   * The inputs as of the last change seen (read on first use after it). A new object after
   * every change, so what is derived from one (`snapshot-cache.ts`) can be keyed by it.
   */
  current(): Promise<SnapshotInputs> {
    if (!this.#cached) {
      const reading = this.#read();
      this.#cached = reading;
      // A failed read is not kept: the next caller tries again.
      reading.catch(() => {
        if (this.#cached === reading) this.#cached = undefined;
      });
    }
    return this.#cached;
  }

  async #read(): Promise<SnapshotInputs> {
    const [catalog, entries, remotes] = await Promise.all([
      this.#part('catalog', () => readCatalog(this.store)),
      this.#part('entries', () =>
        readConfigEntrySet(this.store, (key, err) =>
          this.logger.error({ key, err: String(err) }, 'skipping an unreadable config entry'),
        ),
      ),
      this.#part('remotes', () =>
        readRemoteResources(this.store, (key, err) =>
          this.logger.error({ key, err: String(err) }, 'skipping an unreadable zone sync record'),
        ),
      ),
    ]);
    return { catalog, entries, remotes, zone: this.zone, trustDomain: this.trustDomain() };
  }

  /** One input as last read, or a fresh read of it; a failed read is not kept. */
  #part<K extends keyof Parts>(part: K, read: () => Promise<Parts[K]>): Promise<Parts[K]> {
    // Only #part stores under `part`, always a read of that part.
    const kept = this.#parts.get(part) as Promise<Parts[K]> | undefined;
    if (kept) return kept;
    const reading = read();
    this.#parts.set(part, reading);
    reading.catch(() => {
      if (this.#parts.get(part) === reading) this.#parts.delete(part);
    });
    return reading;
  }

  /** Follow every input prefix until `signal` aborts, calling `onChange` (debounced). */
  async run(signal: AbortSignal, onChange: () => void): Promise<void> {
    const stop = (): void => clearTimeout(this.#timer);
    signal.addEventListener('abort', stop, { once: true });
    try {
      await Promise.all(WATCHED.map((watched) => this.#follow(watched, signal, onChange)));
    } finally {
      stop();
    }
  }

  async #follow(
    watched: (typeof WATCHED)[number],
    signal: AbortSignal,
    onChange: () => void,
  ): Promise<void> {
    const { prefix, part, origin } = watched;
    while (!signal.aborted) {
      try {
        const from = await this.store.currentIndex();
        // Whatever happened before this watch (a resync, a restart) may have changed inputs.
        this.#changed(part, origin, onChange);
        for await (const event of this.store.watch(prefix, from, { signal })) {
          this.#changed(part, origin, onChange);
          if (event.type === 'resync') break;
        }
      } catch (err) {
        if (signal.aborted) return;
        if (isCausewayError(err) && err.code === 'CW_ERR_CLOSED') return;
        this.logger.warn({ err: String(err), prefix }, 'watching snapshot inputs failed; retrying');
        await sleep(1000, signal);
      }
    }
  }

  #changed(part: keyof Parts, origin: Origin, onChange: () => void): void {
    this.#parts.delete(part);
    this.#cached = undefined;
    const now = Date.now();
    const wait = this.#waitMs[origin];
    const burst = this.#pending.get(origin) ?? { firstAt: now, dueAt: now };
    burst.dueAt = Math.min(now + wait, burst.firstAt + 4 * wait);
    this.#pending.set(origin, burst);
    let dueAt = Infinity;
    for (const b of this.#pending.values()) dueAt = Math.min(dueAt, b.dueAt);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        // One rebuild reads every input as it is now: it answers every pending change.
        this.#pending.clear();
        onChange();
      },
      Math.max(0, dueAt - now),
    );
  }
}

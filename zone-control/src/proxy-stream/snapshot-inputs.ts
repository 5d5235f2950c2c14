/**
 * What every proxy's snapshot is built from — the catalog, the config entries, and what
 * zone sync stored about other zones (`sync/global/remote-service/`,
 * `sync/global/remote-gateway/`) — read once per change and shared by every session, and
 * the watch that says when to rebuild.
 *
 * Changes under these prefixes are debounced (`debounceMs` after the last one, but at
 * most `4 × debounceMs` after the first, so a steady trickle of writes still pushes): a
 * deploy that registers 50 instances costs one rebuild, not 50. Global KV and policies,
 * also under `sync/global/`, are not watched: no snapshot reads them, and a busy global
 * KV must not cost every proxy a rebuild.
 */
import { isCausewayError, readCatalog, readConfigEntrySet, sleep } from '../../../core/index.ts';
import type { Logger, Store } from '../../../core/index.ts';
import {
  REMOTE_GATEWAY_PREFIX,
  REMOTE_SERVICE_PREFIX,
  readRemoteResources,
} from './remote-resources.ts';
import type { SnapshotInputs } from './snapshot-builder.ts';

const WATCHED = ['catalog/', 'config/', REMOTE_SERVICE_PREFIX, REMOTE_GATEWAY_PREFIX] as const;

export class SnapshotInputSource {
  #cached: Promise<SnapshotInputs> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #firstChangeAt = 0;

  constructor(
    private readonly store: Store,
    private readonly zone: string,
    private readonly trustDomain: () => string,
    private readonly logger: Logger,
    private readonly debounceMs: number,
  ) {}

  /** The inputs as of the last change seen (read on first use after it). */
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
      readCatalog(this.store),
      readConfigEntrySet(this.store, (key, err) =>
        this.logger.error({ key, err: String(err) }, 'skipping an unreadable config entry'),
      ),
      readRemoteResources(this.store, (key, err) =>
        this.logger.error({ key, err: String(err) }, 'skipping an unreadable zone sync record'),
      ),
    ]);
    return { catalog, entries, remotes, zone: this.zone, trustDomain: this.trustDomain() };
  }

  /** Follow every input prefix until `signal` aborts, calling `onChange` (debounced). */
  async run(signal: AbortSignal, onChange: () => void): Promise<void> {
    const stop = (): void => clearTimeout(this.#timer);
    signal.addEventListener('abort', stop, { once: true });
    try {
      await Promise.all(WATCHED.map((prefix) => this.#follow(prefix, signal, onChange)));
    } finally {
      stop();
    }
  }

  async #follow(prefix: string, signal: AbortSignal, onChange: () => void): Promise<void> {
    while (!signal.aborted) {
      try {
        const from = await this.store.currentIndex();
        // Whatever happened before this watch (a resync, a restart) may have changed inputs.
        this.#changed(onChange);
        for await (const event of this.store.watch(prefix, from, { signal })) {
          this.#changed(onChange);
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

  #changed(onChange: () => void): void {
    this.#cached = undefined;
    const now = Date.now();
    if (this.#timer === undefined) this.#firstChangeAt = now;
    clearTimeout(this.#timer);
    const wait = Math.max(
      0,
      Math.min(this.debounceMs, this.#firstChangeAt + 4 * this.debounceMs - now),
    );
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      onChange();
    }, wait);
  }
}

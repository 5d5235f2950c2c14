/**
 * What every zone has sent global (`sync/zone/<zone>/<type>/<name>`), held in memory and
 * kept current by a store watch, and what each zone gets from it: the services other
 * zones export to it (with healthy and total instance counts there), other zones'
 * gateways, and the leaves other zones revoked (until they expire).
 *
 * A zone global has not heard from since this process started, and whose resources are
 * not in the store either (a global on a fresh in-memory store), is unknown rather than
 * empty: full sets sent to other zones `retain` its names, so a global restart never
 * makes a zone drop another zone's services before that zone has reconnected.
 */
import {
  GLOBAL_SYNC_PREFIX,
  isCausewayError,
  remoteRevocationName,
  sleep,
  zoneResourceValidatorsFor,
} from '../../../core/index.ts';
import type {
  ExportResource,
  GatewayResource,
  InstanceResource,
  Logger,
  RemoteGatewayResource,
  RemoteRevocationResource,
  RemoteServiceResource,
  RevocationResource,
  Store,
  StoredResource,
} from '../../../core/index.ts';

interface ZoneView {
  instances: Map<string, InstanceResource>;
  gateways: Map<string, GatewayResource>;
  exports: Map<string, ExportResource>;
  revocations: Map<string, RevocationResource>;
}

const emptyView = (): ZoneView => ({
  instances: new Map(),
  gateways: new Map(),
  exports: new Map(),
  revocations: new Map(),
});

export class MeshIndex {
  #zones = new Map<string, ZoneView>();
  readonly #listeners = new Set<() => void>();
  #loaded = false;
  #markLoaded!: () => void;
  readonly #whenLoaded = new Promise<void>((resolve) => (this.#markLoaded = resolve));
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    /**
     * Quiet time after a change before listeners hear of it. A zone's delta lands as one
     * transaction, so a few ms gather it whole. @default 5
     */
    private readonly debounceMs = 5,
  ) {}

  /** Call `listener` (debounced) whenever any zone's resources change. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Zones whose resources global holds (received in this process or found in the store). */
  knownZones(): string[] {
    return [...this.#zones.keys()];
  }

  /** Resource counts of one zone, by type. */
  counts(zone: string): Record<string, number> {
    const view = this.#zones.get(zone);
    return {
      instance: view?.instances.size ?? 0,
      gateway: view?.gateways.size ?? 0,
      export: view?.exports.size ?? 0,
      revocation: view?.revocations.size ?? 0,
    };
  }

  /** `remote-service` resources for `zone`: what other zones export to it. */
  remoteServicesFor(zone: string): Map<string, RemoteServiceResource> {
    const out = new Map<string, RemoteServiceResource>();
    for (const [source, view] of this.#zones) {
      if (source === zone) continue;
      for (const exp of view.exports.values()) {
        if (!exp.consumers.includes('*') && !exp.consumers.includes(zone)) continue;
        let healthy = 0;
        let total = 0;
        let protocol: RemoteServiceResource['protocol'] = 'tcp';
        for (const i of view.instances.values()) {
          if (i.service !== exp.service || i.namespace !== exp.namespace) continue;
          total++;
          if (i.health !== 'critical') healthy++;
          protocol = i.protocol;
        }
        out.set(`${source}/${exp.namespace}/${exp.service}`, {
          zone: source,
          service: exp.service,
          namespace: exp.namespace,
          protocol,
          healthy,
          total,
        });
      }
    }
    return out;
  }

  /** `remote-gateway` resources for `zone`: every other zone's gateways. */
  remoteGatewaysFor(zone: string): Map<string, RemoteGatewayResource> {
    const out = new Map<string, RemoteGatewayResource>();
    for (const [source, view] of this.#zones) {
      if (source === zone) continue;
      for (const gw of view.gateways.values()) {
        out.set(`${source}/${gw.name}`, { ...gw, zone: source });
      }
    }
    return out;
  }

  /**
   * `remote-revocation` resources for `zone`: the leaves every other zone revoked, while
   * they have not expired (`now`, ms since the epoch). A zone's own revocations are never
   * sent back to it.
   */
  remoteRevocationsFor(zone: string, now = Date.now()): Map<string, RemoteRevocationResource> {
    const out = new Map<string, RemoteRevocationResource>();
    for (const [source, view] of this.#zones) {
      if (source === zone) continue;
      for (const revoked of view.revocations.values()) {
        if (!(Date.parse(revoked.notAfter) > now)) continue;
        const { serial, spiffeId, reason, revokedAt, notAfter } = revoked;
        out.set(remoteRevocationName(source, serial), {
          zone: source,
          serial,
          spiffeId,
          reason,
          revokedAt,
          notAfter,
        });
      }
    }
    return out;
  }

  /** A zone finished a sync: from now on its (possibly empty) set is known. */
  markKnown(zone: string): void {
    if (!this.#zones.has(zone)) this.#zones.set(zone, emptyView());
  }

  /** Name prefixes a full set sent to a zone must retain: zones global knows nothing of. */
  retainFor(registered: readonly string[]): string[] {
    return registered.filter((z) => !this.#zones.has(z)).map((z) => `${z}/`);
  }

  /** Load the store's view, then follow changes until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const { index } = await this.#reload();
        this.#loaded = true;
        this.#markLoaded();
        this.#notify();
        for await (const event of this.store.watch(GLOBAL_SYNC_PREFIX, index, { signal })) {
          if (event.type === 'resync') break;
          for (const change of event.changes) {
            this.#applyChange(change.key, change.op === 'put' ? change.entry.value : undefined);
          }
          this.#notify();
        }
      } catch (err) {
        if (signal.aborted) return;
        if (isCausewayError(err) && err.code === 'CW_ERR_CLOSED') return;
        this.logger.warn({ err: String(err) }, 'following zone resources failed; retrying');
        await sleep(1000, signal);
      }
    }
  }

  get loaded(): boolean {
    return this.#loaded;
  }

  /** Resolves once the store's view has been read (nothing is sent to zones before). */
  whenLoaded(): Promise<void> {
    return this.#whenLoaded;
  }

  async #reload(): Promise<{ index: number }> {
    const { entries, index } = await this.store.list(GLOBAL_SYNC_PREFIX);
    this.#zones = new Map();
    for (const entry of entries) this.#applyChange(entry.key, entry.value);
    return { index };
  }

  #applyChange(key: string, value: Buffer | undefined): void {
    // sync/zone/<zone>/<type>/<name…>
    const rest = key.slice(GLOBAL_SYNC_PREFIX.length);
    const [zone, type] = rest.split('/', 2);
    if (!zone || !type) return;
    const name = rest.slice(zone.length + type.length + 2);
    let view = this.#zones.get(zone);
    if (!view) {
      if (value === undefined) return;
      view = emptyView();
      this.#zones.set(zone, view);
    }
    const map =
      type === 'instance'
        ? view.instances
        : type === 'gateway'
          ? view.gateways
          : type === 'export'
            ? view.exports
            : type === 'revocation'
              ? view.revocations
              : undefined;
    if (!map) return;
    if (value === undefined) {
      map.delete(name);
      return;
    }
    try {
      const stored = JSON.parse(value.toString()) as StoredResource;
      if (type === 'revocation') {
        // The zone's session checked it before storing it; checked again here because
        // every other zone takes it as that zone's word, and one record they refuse would
        // hold back every revocation after it (a NACK keeps the whole delta out).
        zoneResourceValidatorsFor(zone).revocation(name, stored.body);
      }
      (map as Map<string, unknown>).set(name, stored.body);
    } catch (err) {
      map.delete(name);
      this.logger.error(
        { key, err: String(err) },
        'skipping an unreadable or malformed zone resource',
      );
    }
  }

  #notify(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      for (const listener of this.#listeners) listener();
    }, this.debounceMs);
    this.#timer.unref();
  }
}

/**
 * Outlier detection (Envoy's consecutive 5xx and consecutive gateway/connect failures):
 * an endpoint that fails `consecutive5xx` times in a row with a 5xx, or
 * `consecutiveConnectFailures` times to connect or be read, is ejected for
 * `baseEjectionMs × its ejection count`, at most {@link MAX_EJECTION_MS} (Envoy's
 * `max_ejection_time`), unless that would eject more than `maxEjectionPercent` of the
 * cluster's endpoints (one is always allowed). It returns on its own when the time is up;
 * a success resets its counters. The ejection count decays by one per
 * {@link EJECTION_DECAY_INTERVAL_MS} spent back in service (Envoy decrements it each
 * `interval` a host stays un-ejected), so an endpoint that failed long ago starts over.
 */
import type { OutlierDetection } from '../../../core/index.ts';
import type { EndpointState } from './endpoint.ts';

/** The longest ejection, unless `baseEjectionMs` is longer (Envoy's default, 300 s). */
export const MAX_EJECTION_MS = 300_000;
/** Time back in service that takes one off the ejection count (Envoy's `interval`, 10 s). */
export const EJECTION_DECAY_INTERVAL_MS = 10_000;

export interface OutlierHost {
  readonly endpoints: readonly EndpointState[];
  /** Called after an endpoint is ejected or returns, to rebuild the endpoint set. */
  ejectionChanged(endpoint: EndpointState, reason: string | undefined): void;
}

export class OutlierDetector {
  constructor(
    private readonly host: OutlierHost,
    public config: OutlierDetection,
  ) {}

  success(e: EndpointState): void {
    e.consecutive5xx = 0;
    e.consecutiveFailures = 0;
  }

  serverError(e: EndpointState): void {
    e.consecutive5xx++;
    const limit = this.config.consecutive5xx;
    if (limit > 0 && e.consecutive5xx >= limit) this.#eject(e, 'consecutive_5xx');
  }

  connectFailure(e: EndpointState): void {
    e.consecutiveFailures++;
    const limit = this.config.consecutiveConnectFailures;
    if (limit > 0 && e.consecutiveFailures >= limit) this.#eject(e, 'consecutive_connect_failures');
  }

  ejectedCount(): number {
    let n = 0;
    for (const e of this.host.endpoints) if (e.ejectedUntil !== 0) n++;
    return n;
  }

  /** Return every ejected endpoint now (cluster removed or closing). */
  clear(): void {
    for (const e of this.host.endpoints) this.#return(e, false);
  }

  #eject(e: EndpointState, reason: string): void {
    e.consecutive5xx = 0;
    e.consecutiveFailures = 0;
    if (e.ejectedUntil !== 0) return;
    const allowed = Math.max(
      1,
      Math.floor((this.host.endpoints.length * this.config.maxEjectionPercent) / 100),
    );
    if (this.ejectedCount() >= allowed) return;
    const now = Date.now();
    if (e.ejections > 0 && e.returnedAt !== 0) {
      const served = Math.floor((now - e.returnedAt) / EJECTION_DECAY_INTERVAL_MS);
      e.ejections = Math.max(0, e.ejections - served);
    }
    e.ejections++;
    const base = this.config.baseEjectionMs;
    const ms = Math.min(base * e.ejections, Math.max(MAX_EJECTION_MS, base));
    e.ejectedUntil = now + ms;
    e.ejectTimer = setTimeout(() => this.#return(e, true), ms);
    e.ejectTimer.unref();
    this.host.ejectionChanged(e, reason);
  }

  #return(e: EndpointState, notify: boolean): void {
    if (e.ejectTimer) clearTimeout(e.ejectTimer);
    e.ejectTimer = undefined;
    if (e.ejectedUntil === 0) return;
    e.ejectedUntil = 0;
    e.returnedAt = Date.now();
    if (notify) this.host.ejectionChanged(e, undefined);
  }
}

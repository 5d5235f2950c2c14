/**
 * Leaf renewal: a holder renews its leaf at 80% of the leaf's lifetime, minus a random
 * jitter of up to 5% of the lifetime, so a fleet of proxies started together does not
 * send its CSRs in one burst (Consul's agent cache does the same). Renewal never waits
 * past 80%: the remaining 20% (about 4.8 h for a 24 h leaf) is the margin for a CA that is
 * down or rate-limiting. The old leaf keeps serving until the new one is in place, so a
 * renewal drops no connection: TLS servers swap their context for new handshakes only.
 */
import { sleep } from '../lifecycle.ts';
import type { Logger } from '../logging.ts';

export const RENEW_AT_FRACTION = 0.8;
export const RENEW_JITTER_FRACTION = 0.05;

export interface LeafValidity {
  notBefore: Date;
  notAfter: Date;
  /**
   * When the leaf was issued. Our CA backdates `notBefore` a minute for clock skew, so
   * the lifetime is counted from here when known (otherwise from `notBefore`).
   */
  issuedAt?: Date;
}

/** Milliseconds from `now` until the leaf should be renewed (0 if overdue). */
export function renewalDelayMs(
  leaf: LeafValidity,
  now: Date = new Date(),
  random: () => number = Math.random,
): number {
  const start = (leaf.issuedAt ?? leaf.notBefore).getTime();
  const lifetime = leaf.notAfter.getTime() - start;
  const at = start + lifetime * (RENEW_AT_FRACTION - RENEW_JITTER_FRACTION * random());
  return Math.max(0, Math.round(at - now.getTime()));
}

export interface IssuedLeaf extends LeafValidity {
  certificatePem: string;
}

export interface LeafRenewerOptions<L extends IssuedLeaf> {
  /** Gets a new leaf (generates a key, sends a CSR). */
  issue: () => Promise<L>;
  /** Installs a leaf; called with the first leaf and each renewal. */
  install: (leaf: L) => void;
  logger?: Logger;
  /** First retry delay after a failed renewal; doubles up to `maxRetryMs`. @default 1000 */
  retryMs?: number;
  /** @default 30000 */
  maxRetryMs?: number;
  random?: () => number;
}

/**
 * Keeps one leaf fresh: issues it, installs it, and renews it before it expires, or at
 * once when {@link renewNow} is called (the signing root changed). A failed renewal is
 * retried with backoff while the current leaf stays installed.
 */
export class LeafRenewer<L extends IssuedLeaf> {
  #current: L | undefined;
  #wake: (() => void) | undefined;
  #renewRequested = false;
  renewals = 0;
  failures = 0;

  constructor(private readonly options: LeafRenewerOptions<L>) {}

  get current(): L | undefined {
    return this.#current;
  }

  /** Renew now (with a little jitter), e.g. because signing moved to a new root. */
  renewNow(): void {
    this.#renewRequested = true;
    this.#wake?.();
  }

  /** Runs until `signal` aborts; resolves after the first leaf is installed via `ready`. */
  async run(signal: AbortSignal, ready?: () => void): Promise<void> {
    const random = this.options.random ?? Math.random;
    const maxRetryMs = this.options.maxRetryMs ?? 30_000;
    let retryMs = this.options.retryMs ?? 1000;
    while (!signal.aborted) {
      try {
        this.#renewRequested = false;
        const leaf = await this.options.issue();
        this.#current = leaf;
        this.options.install(leaf);
        if (this.renewals++ === 0) ready?.();
        retryMs = this.options.retryMs ?? 1000;
        await this.#waitFor(renewalDelayMs(leaf, new Date(), random), signal);
      } catch (err) {
        if (signal.aborted) return;
        this.failures++;
        this.options.logger?.warn(
          { err: String(err), retryMs, expires: this.#current?.notAfter },
          'leaf renewal failed; keeping the current leaf and retrying',
        );
        await this.#waitFor(retryMs, signal);
        retryMs = Math.min(retryMs * 2, maxRetryMs);
      }
    }
  }

  async #waitFor(ms: number, signal: AbortSignal): Promise<void> {
    const woken = new AbortController();
    this.#wake = () => woken.abort();
    const both = AbortSignal.any([signal, woken.signal]);
    // setTimeout holds at most 2^31-1 ms (~24.8 days); longer leaves wait in steps.
    const deadline = Date.now() + ms;
    while (!both.aborted && !this.#renewRequested && Date.now() < deadline) {
      await sleep(Math.min(deadline - Date.now(), 2 ** 31 - 1), both);
    }
    this.#wake = undefined;
  }
}

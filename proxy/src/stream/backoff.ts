/**
 * Reconnect delays: exponential from `baseMs` to `maxMs`, each with "equal jitter" (half
 * fixed, half random) so a fleet of proxies that lost the same zone does not come back in
 * one burst, while no proxy retries sooner than half the nominal delay.
 */
export interface BackoffOptions {
  /** @default 250 */
  baseMs?: number;
  /** @default 30000 */
  maxMs?: number;
  random?: () => number;
}

export class Backoff {
  #attempt = 0;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.#baseMs = options.baseMs ?? 250;
    this.#maxMs = options.maxMs ?? 30_000;
    this.#random = options.random ?? Math.random;
  }

  /** The delay before the next attempt; each call doubles the nominal delay up to the cap. */
  next(): number {
    const nominal = Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    return Math.round(nominal / 2 + (nominal / 2) * this.#random());
  }

  /** After a connection that worked: start again from `baseMs`. */
  reset(): void {
    this.#attempt = 0;
  }

  get attempts(): number {
    return this.#attempt;
  }
}

/**
 * A token bucket: `ratePerSecond` tokens refill continuously up to `burst`. Used to
 * rate-limit work a remote caller can trigger at will, such as certificate signing (Consul's
 * `csr_max_per_second`), so one misbehaving client cannot take the CA's CPU.
 */
import { InvalidArgumentError } from './errors.ts';

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number = ratePerSecond,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
      throw new InvalidArgumentError(
        `ratePerSecond must be a positive number (got ${ratePerSecond})`,
        'ratePerSecond',
      );
    }
    if (!(burst >= 1) || !Number.isFinite(burst)) {
      throw new InvalidArgumentError(`burst must be at least 1 (got ${burst})`, 'burst');
    }
    this.tokens = burst;
    this.last = now();
  }

  /** Take one token if there is one. */
  tryTake(): boolean {
    const now = this.now();
    this.tokens = Math.min(
      this.burst,
      this.tokens + ((now - this.last) / 1000) * this.ratePerSecond,
    );
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until the next token; 0 when one is available. */
  msUntilNext(): number {
    const missing = 1 - this.tokens - ((this.now() - this.last) / 1000) * this.ratePerSecond;
    return missing <= 0 ? 0 : Math.ceil((missing / this.ratePerSecond) * 1000);
  }
}

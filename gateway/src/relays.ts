/**
 * The connections and streams a gateway is relaying, so that a stop can wait for them to
 * finish and then cut what is left.
 */
import type { Duplex } from 'node:stream';

export class Relays {
  readonly #open = new Set<Duplex>();
  #idle: (() => void) | undefined;

  get size(): number {
    return this.#open.size;
  }

  /** Track `d` until it closes. */
  add(d: Duplex): void {
    this.#open.add(d);
    d.once('close', () => {
      this.#open.delete(d);
      if (this.#open.size === 0) this.#idle?.();
    });
  }

  /** Resolves once nothing is open, or after `timeoutMs`; true when all finished. */
  async settled(timeoutMs: number): Promise<boolean> {
    if (this.#open.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const finished = await new Promise<boolean>((resolve) => {
      this.#idle = () => resolve(true);
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    clearTimeout(timer);
    this.#idle = undefined;
    return finished;
  }

  destroyAll(): void {
    for (const d of this.#open) d.destroy();
  }
}

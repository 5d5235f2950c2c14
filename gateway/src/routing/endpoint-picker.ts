/**
 * Round robin over one service's endpoints, skipping critical ones. The cursor survives
 * config updates (see {@link EndpointPicker.update}), so a busy service does not restart
 * at its first instance every time its health changes.
 */
import type { GatewayEndpoint } from '../../../core/index.ts';

export class EndpointPicker {
  #endpoints: readonly GatewayEndpoint[] = [];
  #cursor = 0;

  constructor(endpoints: readonly GatewayEndpoint[]) {
    this.update(endpoints);
  }

  update(endpoints: readonly GatewayEndpoint[]): void {
    this.#endpoints = endpoints;
    if (this.#cursor >= endpoints.length) this.#cursor = 0;
  }

  /** Endpoints not critical, right now. */
  healthyCount(): number {
    return this.#endpoints.filter((e) => e.health !== 'critical').length;
  }

  /**
   * The next endpoint not critical and not in `exclude` (endpoints a caller already failed
   * to reach), or undefined when there is none.
   */
  pick(exclude: ReadonlySet<GatewayEndpoint> = new Set()): GatewayEndpoint | undefined {
    const n = this.#endpoints.length;
    for (let i = 0; i < n; i++) {
      const endpoint = this.#endpoints[(this.#cursor + i) % n] as GatewayEndpoint;
      if (endpoint.health === 'critical' || exclude.has(endpoint)) continue;
      this.#cursor = (this.#cursor + i + 1) % n;
      return endpoint;
    }
    return undefined;
  }
}

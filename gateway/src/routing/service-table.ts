/**
 * The services of the gateway's zone, by `<namespace>/<service>`: who each is exported to
 * and its endpoints (the instances' sidecar inbound ports), with one round-robin picker
 * per service. Rebuilt from each config; pickers are carried over by service.
 */
import type { GatewayConfig, GatewayService } from '../../../core/index.ts';
import { EndpointPicker } from './endpoint-picker.ts';

export interface RoutedService {
  config: GatewayService;
  picker: EndpointPicker;
}

/** Why a destination cannot be served, as metrics and logs name it. */
export type RouteRefusal = 'unknown_service' | 'not_exported';

export class ServiceTable {
  readonly #services: ReadonlyMap<string, RoutedService>;

  private constructor(services: Map<string, RoutedService>) {
    this.#services = services;
  }

  static empty(): ServiceTable {
    return new ServiceTable(new Map());
  }

  /** A table for `config`, reusing the pickers of `previous` for services still listed. */
  static build(config: GatewayConfig, previous?: ServiceTable): ServiceTable {
    const services = new Map<string, RoutedService>();
    for (const s of config.services) {
      const key = keyOf(s.namespace, s.service);
      const picker = previous?.get(s.namespace, s.service)?.picker;
      if (picker) picker.update(s.endpoints);
      services.set(key, { config: s, picker: picker ?? new EndpointPicker(s.endpoints) });
    }
    return new ServiceTable(services);
  }

  get(namespace: string, service: string): RoutedService | undefined {
    return this.#services.get(keyOf(namespace, service));
  }

  /**
   * The service a peer in `fromZone` may reach, or why not. `fromZone` undefined (a direct
   * passthrough connection, whose caller the gateway cannot see) asks whether the service
   * is exported to any zone at all; the destination's sidecar authorizes the caller.
   */
  route(
    namespace: string,
    service: string,
    fromZone: string | undefined,
  ): RoutedService | RouteRefusal {
    const routed = this.get(namespace, service);
    if (routed === undefined) return 'unknown_service';
    const to = routed.config.exportedTo;
    const exported =
      fromZone === undefined ? to.length > 0 : to.includes('*') || to.includes(fromZone);
    return exported ? routed : 'not_exported';
  }

  /** Every service, for `/config_dump`-style views. */
  services(): RoutedService[] {
    return [...this.#services.values()];
  }
}

function keyOf(namespace: string, service: string): string {
  return `${namespace}/${service}`;
}

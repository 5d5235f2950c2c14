/**
 * What the listeners route by: the applied config and the service table built from it.
 * Swapped as a whole on each config, so a connection sees one consistent state.
 */
import type { GatewayConfig } from '../../../core/index.ts';
import type { ServiceTable } from './service-table.ts';

export interface RoutingState {
  config: GatewayConfig;
  table: ServiceTable;
}

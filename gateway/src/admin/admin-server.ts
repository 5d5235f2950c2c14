/**
 * The gateway's admin API, on the proxy's model (Envoy's admin port): `/ready`,
 * `/config_dump`, `/tunnels`, `/stats/prometheus`, `/stats`. The server itself is core's
 * {@link AdminServer}; this names the gateway's paths.
 */
import { AdminServer } from '../../../core/index.ts';
import type { HostPort, Logger, Readiness } from '../../../core/index.ts';

export type { Readiness } from '../../../core/index.ts';

/** What the admin API reads; each call reflects the moment it is made. */
export interface GatewayAdminSource {
  readiness(): Readiness;
  configDump(): unknown;
  tunnels(): unknown;
  /** Prometheus text exposition. */
  prometheus(): Promise<{ contentType: string; body: string }>;
  /** The same metrics as JSON (prom-client's `getMetricsAsJSON`). */
  statsJson(): Promise<unknown>;
}

export class GatewayAdminServer extends AdminServer {
  constructor(addr: HostPort, source: GatewayAdminSource, logger: Logger) {
    super(
      addr,
      {
        readiness: () => source.readiness(),
        json: { '/config_dump': () => source.configDump(), '/tunnels': () => source.tunnels() },
        prometheus: () => source.prometheus(),
        statsJson: () => source.statsJson(),
      },
      logger,
    );
  }
}

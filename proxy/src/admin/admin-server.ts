/**
 * The proxy's admin API (Envoy's admin port, same paths): `/ready`, `/config_dump`,
 * `/clusters`, `/stats/prometheus`, `/stats`. The server itself is core's
 * {@link CoreAdminServer}; this names the proxy's paths.
 */
import { AdminServer as CoreAdminServer } from '../../../core/index.ts';
import type { HostPort, Logger, Readiness } from '../../../core/index.ts';

export type { Readiness } from '../../../core/index.ts';

/** What the admin API reads; each call reflects the moment it is made. */
export interface AdminSource {
  readiness(): Readiness;
  configDump(): unknown;
  clusters(): unknown;
  /** Prometheus text exposition. */
  prometheus(): Promise<{ contentType: string; body: string }>;
  /** The same metrics as JSON (prom-client's `getMetricsAsJSON`). */
  statsJson(): Promise<unknown>;
}

export class AdminServer extends CoreAdminServer {
  constructor(addr: HostPort, source: AdminSource, logger: Logger) {
    super(
      addr,
      {
        readiness: () => source.readiness(),
        json: { '/config_dump': () => source.configDump(), '/clusters': () => source.clusters() },
        prometheus: () => source.prometheus(),
        statsJson: () => source.statsJson(),
      },
      logger,
    );
  }
}

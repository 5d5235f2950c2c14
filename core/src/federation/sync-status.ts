/**
 * What the global control plane knows about each zone's sync session, for `/api/zones`
 * and for `causeway zone list`. The sync server (global-control/src/sync) produces it.
 */

/** What a zone reports about itself over sync (its "insight" record). */
export interface ZoneInsight {
  /** The zone control plane's Causeway version. */
  version: string;
  /** Resources the zone holds, by type (e.g. `{ instance: 12, gateway: 1 }`). */
  counts: Record<string, number>;
  /** Proxies connected to the zone's config stream. */
  proxies: number;
  /** When the zone last acknowledged something global sent (ISO time). */
  lastAckAt?: string;
  /** How long the zone took from receiving global's latest change to applying it. */
  applyLagMs?: number;
}

export interface ZoneSyncStatus {
  /** A sync session is open now. */
  online: boolean;
  /** When the current (or last) session started. */
  connectedAt?: string;
  /** Last frame or heartbeat from the zone. */
  lastSeen?: string;
  /** Last ACK from the zone for something global sent. */
  lastAckAt?: string;
  /**
   * Oldest unacknowledged change sent to the zone, in ms (0 when the zone is caught up):
   * how far behind global the zone is.
   */
  lagMs?: number;
  /** How the zone authenticated its session. */
  auth?: 'token' | 'mtls';
  insight?: ZoneInsight;
}

/** Where the global's HTTP API reads sync health from. */
export interface SyncStatusSource {
  status(zone: string): ZoneSyncStatus | undefined;
}

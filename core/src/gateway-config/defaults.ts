/** Defaults for what a gateway config leaves out. */
import type { TunnelSettings } from './types.ts';

export function defaultTunnelSettings(): TunnelSettings {
  return {
    maxSessionsPerPeer: 4,
    maxStreamsPerSession: 100,
    idleTimeoutMs: 60_000,
    connectTimeoutMs: 5_000,
  };
}

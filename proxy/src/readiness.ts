/**
 * Why the proxy is not ready to serve, as `/ready` reports it. A leaf that has expired
 * counts: peers refuse it, so every mesh call would fail while the zone (which would renew
 * it) is unreachable, and an orchestrator should know.
 */
import type { Readiness } from './admin/admin-server.ts';
import type { TlsIdentity } from './identity/tls-identity.ts';

export interface ReadinessFacts {
  tls: TlsIdentity;
  /** Whether the snapshot in force is applied. */
  configApplied: boolean;
  /** What to say when there is no config yet. */
  noConfig: string;
  /** The zone stream, when the proxy has one. */
  zoneStream?: { connected: boolean };
}

export function readinessOf(facts: ReadinessFacts, now = Date.now()): Readiness {
  const reasons: string[] = [];
  const stream =
    facts.zoneStream === undefined
      ? ''
      : ` (zone stream ${facts.zoneStream.connected ? 'open' : 'down'})`;
  const notAfter = facts.tls.notAfter();
  if (!facts.tls.ready() || notAfter === undefined) reasons.push(`no certificate yet${stream}`);
  else if (notAfter.getTime() <= now) {
    reasons.push(`the certificate expired at ${notAfter.toISOString()}${stream}`);
  }
  if (!facts.configApplied) reasons.push(facts.noConfig);
  return { ready: reasons.length === 0, reasons };
}

/**
 * What the admin API reads from an assembled proxy: readiness, the config dump (the applied
 * snapshot, listener ports, identity facts — never key material), clusters and metrics.
 */
import { X509Certificate } from 'node:crypto';
import type { ServingPlane } from '../data-plane.ts';
import type { TlsIdentity } from '../identity/tls-identity.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { AdminSource, Readiness } from './admin-server.ts';

export function adminSource(parts: {
  readiness: () => Readiness;
  dataPlane: ServingPlane;
  metrics: ProxyMetrics;
  prometheus: AdminSource['prometheus'] | undefined;
  dump: () => Record<string, unknown>;
}): AdminSource {
  const { dataPlane, metrics } = parts;
  return {
    readiness: parts.readiness,
    configDump: async () => {
      const applied = dataPlane.applied;
      return {
        ...parts.dump(),
        version: applied?.version,
        appliedAt: applied?.appliedAt,
        listeners: { inbound: dataPlane.inboundPort(), outbound: await dataPlane.listenerPorts() },
        config: applied?.config,
      };
    },
    clusters: async () => ({ clusters: await dataPlane.clusters() }),
    prometheus:
      parts.prometheus ??
      (async () => ({
        contentType: metrics.registry.contentType,
        body: await metrics.registry.metrics(),
      })),
    statsJson: () => metrics.registry.getMetricsAsJSON(),
  };
}

export /** Certificate facts for `/config_dump`: serials and dates, never the key. */
function identityDump(tls: TlsIdentity): Record<string, unknown> {
  const material = tls.material();
  if (!material) return { certificate: undefined };
  const cert = new X509Certificate(material.certificatePem);
  return {
    certificate: {
      serial: cert.serialNumber.toLowerCase(),
      subjectAltName: cert.subjectAltName,
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
    },
    roots: material.roots.length,
    revokedSerials: material.revokedSerials.length,
  };
}

/** CA helpers for tests that talk to a zone's CA over HTTP. */
import { createCsr, formatSpiffeId, generateKeyPair } from '../../core/index.ts';
import type { TestZone } from './zone.ts';

/** POST /api/ca/leaf with a fresh key's CSR for `spiffeId`. */
export async function requestLeaf(
  zone: Pick<TestZone, 'url'>,
  spiffeId: string,
  headers: Record<string, string> = {},
  csrFor = spiffeId,
): Promise<Response> {
  const keyPair = await generateKeyPair();
  return fetch(`${zone.url}/api/ca/leaf`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ spiffeId, csr: createCsr({ keyPair, spiffeId: csrFor }) }),
  });
}

/** The trust domain and zone `startZone()` gives a test zone. */
export const TEST_TRUST_DOMAIN = 'causeway.mesh';
export const TEST_ZONE = 'test';

/** `spiffe://causeway.mesh/zone/<zone>/ns/default/svc/<service>` */
export function workloadId(service: string, zone = TEST_ZONE): string {
  return formatSpiffeId({
    kind: 'workload',
    trustDomain: TEST_TRUST_DOMAIN,
    zone,
    namespace: 'default',
    service,
  });
}

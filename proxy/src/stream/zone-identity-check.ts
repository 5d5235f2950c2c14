/**
 * Whom the proxy accepts as its zone: a certificate the trust bundle verifies (TLS does
 * that) whose only URI SAN is a zone control plane's SPIFFE ID in our trust domain, of
 * the configured zone when one is set. Node's hostname check ignores URI SANs, so this
 * is the `checkServerIdentity` the stream client dials with.
 */
import type { PeerCertificate } from 'node:tls';
import { PermissionDeniedError, parseSpiffeId, peerSpiffeId } from '../../../core/index.ts';

export function zoneControlIdentityCheck(
  trustDomain: string,
  zone: string | undefined,
): (hostname: string, cert: PeerCertificate) => Error | undefined {
  const wanted = `spiffe://${trustDomain}/zone/${zone ?? '<any>'}/control`;
  return (_hostname, cert) => {
    const actual = peerSpiffeId(cert);
    try {
      const id = parseSpiffeId(actual);
      if (
        id.kind === 'control' &&
        id.trustDomain === trustDomain &&
        (zone === undefined || id.zone === zone)
      ) {
        return undefined;
      }
    } catch {
      // Not a Causeway SPIFFE ID: refused below.
    }
    return new PermissionDeniedError(
      `the zone control plane presented ${actual ?? 'no SPIFFE ID'}; expected ${wanted}`,
    );
  };
}

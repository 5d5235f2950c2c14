/**
 * Which identities a token may get certificates for (and acknowledge bundles as): the
 * CA signs only what the requester is entitled to. Like Consul, a workload identity needs
 * `service:write` on its service; a gateway, `service:write` on the gateway's name; the
 * zone's own control identity, `operator:write`. And only identities in this zone: the
 * zone's intermediate cannot sign outside `spiffe://<trust-domain>/zone/<zone>/`.
 */
import { PermissionDeniedError, parseSpiffeId } from '../../../core/index.ts';
import type { SpiffeId } from '../../../core/index.ts';
import { requireAccess } from '../acl/authorizer.ts';
import type { Authorizer } from '../acl/authorizer.ts';

export function requireEntitlement(
  authz: Authorizer,
  spiffeId: string,
  scope: { trustDomain: string; zone: string },
  field = 'spiffeId',
): SpiffeId {
  const id = parseSpiffeId(spiffeId, field);
  if (id.trustDomain !== scope.trustDomain || id.zone !== scope.zone) {
    throw new PermissionDeniedError(
      `this zone issues identities only under spiffe://${scope.trustDomain}/zone/${scope.zone}/ (got ${spiffeId})`,
    );
  }
  switch (id.kind) {
    case 'workload':
      requireAccess(authz, 'service', id.service, 'write');
      break;
    case 'gateway':
      requireAccess(authz, 'service', id.name, 'write');
      break;
    case 'control':
      requireAccess(authz, 'operator', '', 'write');
      break;
  }
  return id;
}

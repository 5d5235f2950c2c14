/**
 * Which identities a token may get certificates for (and acknowledge bundles as): the
 * CA signs only what the requester is entitled to. Like Consul, a workload identity needs
 * `service:write` on its service; a gateway, `service:write` on the gateway's name; the
 * zone's own control identity, `operator:write`. And only identities in this zone: the
 * zone's intermediate cannot sign outside `spiffe://<trust-domain>/zone/<zone>/`.
 *
 * Namespaces: ACL rules (and service identities) name services, not namespaces, so
 * `service:write` on `web` cannot tell `default/web` from `prod/web`. A workload identity
 * outside the `default` namespace therefore also needs `operator:write`; otherwise a
 * token issued for `web` would get certificates for `web` in every namespace, and pass
 * other namespaces' intentions.
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
      if (id.namespace !== 'default' && !authz.allows('operator', '', 'write')) {
        throw new PermissionDeniedError(
          `Permission denied: an identity in namespace "${id.namespace}" needs operator:write ` +
            `(ACL tokens do not carry namespaces; service:write on "${id.service}" covers only ` +
            `the default namespace)`,
        );
      }
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

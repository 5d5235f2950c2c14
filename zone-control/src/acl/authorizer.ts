/**
 * What a request's token may do. Handlers ask before they read or write; the ACL module
 * builds an `Authorizer` from the token's rules, and `--dev` uses {@link allowAll}.
 */
import { PermissionDeniedError } from '../../../core/index.ts';

export type Access = 'read' | 'write';

/** The resource kinds a rule can name, as in Consul (`key`, `service`, `node`, …). */
export type ResourceKind = 'key' | 'service' | 'node' | 'session' | 'operator' | 'acl';

export interface Authorizer {
  /** Shown in denials so an operator can tell which token was used. */
  readonly accessorId: string;
  /**
   * May the token `access` the resource? `name` is the key, service, node or session node;
   * ignored for `operator` and `acl`. Write implies read.
   */
  allows(kind: ResourceKind, name: string, access: Access): boolean;
}

/** Every request may do anything: `--dev`, and the management token. */
export const allowAll: Authorizer = {
  accessorId: 'anonymous (ACLs disabled)',
  allows: () => true,
};

/**
 * Throw a 403 unless allowed. The message follows Consul's, so clients and operators
 * see which permission on which resource was missing.
 */
export function requireAccess(
  authz: Authorizer,
  kind: ResourceKind,
  name: string,
  access: Access,
): void {
  if (authz.allows(kind, name, access)) return;
  const on = kind === 'operator' || kind === 'acl' ? '' : ` on ${JSON.stringify(name)}`;
  throw new PermissionDeniedError(
    `Permission denied: token with AccessorID '${authz.accessorId}' lacks permission '${kind}:${access}'${on}`,
  );
}

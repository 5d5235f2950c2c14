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

/** Consul's fixed AccessorID of the token used when a request names none. */
export const ANONYMOUS_TOKEN_ID = '00000000-0000-0000-0000-000000000002';

/** Every request may do anything: `--dev`, and the management token. */
export const allowAll: Authorizer = {
  accessorId: 'anonymous (ACLs disabled)',
  allows: () => true,
};

/**
 * Throw a 403 unless allowed. The message follows Consul's (`acl/errors.go`,
 * `PermissionDeniedError.Error`), so clients and operators see which permission on which
 * resource was missing, and that a request without a token ran as the anonymous token.
 */
export function requireAccess(
  authz: Authorizer,
  kind: ResourceKind,
  name: string,
  access: Access,
): void {
  if (authz.allows(kind, name, access)) return;
  const anonymous = authz.accessorId === ANONYMOUS_TOKEN_ID;
  const who = anonymous ? 'anonymous token' : `token with AccessorID '${authz.accessorId}'`;
  const on = kind === 'operator' || kind === 'acl' ? '' : ` on ${JSON.stringify(name)}`;
  const hint = anonymous
    ? '. The anonymous token is used implicitly when a request does not specify a token.'
    : '';
  throw new PermissionDeniedError(
    `Permission denied: ${who} lacks permission '${kind}:${access}'${on}${hint}`,
  );
}

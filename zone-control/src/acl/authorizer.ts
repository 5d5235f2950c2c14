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
  /**
   * May the token write every key under `prefix`, whatever keys exist? Consul's
   * `KeyWritePrefix`: the rule that applies to the prefix grants write, and no rule for a
   * name under it grants less. Decided on the rules alone, for deletes whose keys this
   * side cannot list (a recursive delete of global KV, carried out at global).
   */
  allowsKeyWritePrefix(prefix: string): boolean;
}

/** Consul's fixed AccessorID of the token used when a request names none. */
export const ANONYMOUS_TOKEN_ID = '00000000-0000-0000-0000-000000000002';

/** Every request may do anything: `--dev`, and the management token. */
export const allowAll: Authorizer = {
  accessorId: 'anonymous (ACLs disabled)',
  allows: () => true,
  allowsKeyWritePrefix: () => true,
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
  throw denied(authz, kind, name, access);
}

/** Throw a 403 unless the token may write every key under `prefix` (see above). */
export function requireKeyWritePrefix(authz: Authorizer, prefix: string): void {
  if (!authz.allowsKeyWritePrefix(prefix)) throw denied(authz, 'key', prefix, 'write');
}

function denied(
  authz: Authorizer,
  kind: ResourceKind,
  name: string,
  access: Access,
): PermissionDeniedError {
  const anonymous = authz.accessorId === ANONYMOUS_TOKEN_ID;
  const who = anonymous ? 'anonymous token' : `token with AccessorID '${authz.accessorId}'`;
  const on = kind === 'operator' || kind === 'acl' ? '' : ` on ${JSON.stringify(name)}`;
  const hint = anonymous
    ? '. The anonymous token is used implicitly when a request does not specify a token.'
    : '';
  return new PermissionDeniedError(
    `Permission denied: ${who} lacks permission '${kind}:${access}'${on}${hint}`,
  );
}

/**
 * Consul's answer (401) to an ACL call when ACLs are off: a koa-style error (`status`,
 * `expose`) so the error middleware renders it with its message.
 */
export class AclDisabledError extends Error {
  readonly status = 401;
  readonly expose = true;
  constructor(message = 'ACL support disabled') {
    super(message);
  }
}

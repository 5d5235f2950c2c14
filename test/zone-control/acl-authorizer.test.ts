/** How compiled rules decide: Consul's exact / longest-prefix / deny-wins matching. */
import { expect } from 'chai';
import { PermissionDeniedError } from '../../core/index.ts';
import { ANONYMOUS_TOKEN_ID, requireAccess } from '../../zone-control/src/acl/authorizer.ts';
import { RulesAuthorizer } from '../../zone-control/src/acl/policy-authorizer.ts';
import { parseRules } from '../../zone-control/src/acl/rules.ts';

const ID = '6a1253d2-1785-24fd-91c2-f8e78c745511';

function authz(...policies: string[]): RulesAuthorizer {
  return new RulesAuthorizer(
    ID,
    policies.map((p) => parseRules(p)),
  );
}

describe('ACL rule matching', function () {
  it('grants write under a key prefix and nothing outside it', function () {
    const a = authz('key_prefix "app/" { policy = "write" }');
    expect(a.allows('key', 'app/x', 'write')).to.equal(true);
    expect(a.allows('key', 'app/x', 'read')).to.equal(true);
    expect(a.allows('key', 'other/x', 'read')).to.equal(false);
    expect(a.allows('key', 'app', 'read')).to.equal(false);
  });

  it('lets write imply read but not the reverse', function () {
    const a = authz('service "web" { policy = "read" }', 'node "n1" { policy = "write" }');
    expect(a.allows('service', 'web', 'read')).to.equal(true);
    expect(a.allows('service', 'web', 'write')).to.equal(false);
    expect(a.allows('node', 'n1', 'read')).to.equal(true);
  });

  it('lets the longest matching prefix decide, never a shorter one', function () {
    const a = authz(
      'key_prefix "" { policy = "read" }\nkey_prefix "app/" { policy = "write" }\nkey_prefix "app/secret/" { policy = "deny" }\nkey_prefix "app/ro/" { policy = "read" }',
    );
    expect(a.allows('key', 'top', 'read')).to.equal(true);
    expect(a.allows('key', 'top', 'write')).to.equal(false);
    expect(a.allows('key', 'app/x', 'write')).to.equal(true);
    expect(a.allows('key', 'app/secret/pw', 'read')).to.equal(false);
    // "read" is the longest match: the shorter "write" prefix is not consulted.
    expect(a.allows('key', 'app/ro/x', 'write')).to.equal(false);
    expect(a.allows('key', 'app/ro/x', 'read')).to.equal(true);
  });

  it('allows a write of every key under a prefix only when no rule under it grants less (KeyWritePrefix)', function () {
    const a = authz(
      'key_prefix "global/" { policy = "write" }\nkey "global/locked" { policy = "deny" }\nkey_prefix "global/ro/" { policy = "read" }',
    );
    expect(a.allowsKeyWritePrefix('global/')).to.equal(false);
    expect(a.allowsKeyWritePrefix('global/app/')).to.equal(true);
    expect(a.allowsKeyWritePrefix('global/ro/')).to.equal(false);
    expect(a.allowsKeyWritePrefix('global/lock')).to.equal(false);
    expect(a.allowsKeyWritePrefix('other/')).to.equal(false);
    expect(authz('key_prefix "" { policy = "write" }').allowsKeyWritePrefix('')).to.equal(true);
  });

  it('lets an exact rule beat a longer-matching prefix rule', function () {
    const a = authz('key "app/x" { policy = "read" }\nkey_prefix "app/x" { policy = "write" }');
    expect(a.allows('key', 'app/x', 'write')).to.equal(false);
    expect(a.allows('key', 'app/xy', 'write')).to.equal(true);
  });

  it('lets deny win over allow for the same rule in two policies', function () {
    const a = authz(
      'key_prefix "app/" { policy = "write" }',
      'key_prefix "app/" { policy = "deny" }',
    );
    expect(a.allows('key', 'app/x', 'read')).to.equal(false);
    const b = authz('acl = "write"', 'acl = "deny"');
    expect(b.allows('acl', '', 'read')).to.equal(false);
  });

  it('merges equal rules from two policies to the stronger of read and write', function () {
    const a = authz('service "web" { policy = "read" }', 'service "web" { policy = "write" }');
    expect(a.allows('service', 'web', 'write')).to.equal(true);
  });

  it('lets "list" read keys but not write them', function () {
    const a = authz('key_prefix "" { policy = "list" }');
    expect(a.allows('key', 'any', 'read')).to.equal(true);
    expect(a.allows('key', 'any', 'write')).to.equal(false);
  });

  it('denies by default: no rules, no rights', function () {
    const a = authz();
    for (const kind of ['key', 'service', 'node', 'session', 'operator', 'acl'] as const) {
      expect(a.allows(kind, 'x', 'read'), kind).to.equal(false);
    }
  });

  it('keeps kinds apart: a key rule says nothing about services', function () {
    const a = authz('key_prefix "" { policy = "write" }');
    expect(a.allows('service', 'web', 'read')).to.equal(false);
    expect(a.allows('session', 'n1', 'read')).to.equal(false);
  });

  it('decides operator and acl from their whole-system levels', function () {
    const a = authz('operator = "read"\nacl = "write"');
    expect(a.allows('operator', '', 'read')).to.equal(true);
    expect(a.allows('operator', '', 'write')).to.equal(false);
    expect(a.allows('acl', '', 'write')).to.equal(true);
  });

  describe('requireAccess', function () {
    it("names the token, the permission and the resource as Consul's 403 does", function () {
      expect(() => requireAccess(authz(), 'key', 'other/x', 'write'))
        .to.throw(PermissionDeniedError)
        .with.property(
          'message',
          `Permission denied: token with AccessorID '${ID}' lacks permission 'key:write' on "other/x"`,
        );
    });

    it('names the anonymous token and explains where it came from', function () {
      const anonymous = new RulesAuthorizer(ANONYMOUS_TOKEN_ID, []);
      expect(() => requireAccess(anonymous, 'operator', '', 'read')).to.throw(
        "Permission denied: anonymous token lacks permission 'operator:read'. The anonymous token is used implicitly when a request does not specify a token.",
      );
    });

    it('returns quietly when allowed', function () {
      expect(() =>
        requireAccess(authz('node_prefix "" { policy = "read" }'), 'node', 'n', 'read'),
      ).not.to.throw();
    });
  });
});

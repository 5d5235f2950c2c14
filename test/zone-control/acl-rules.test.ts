/** Parsing Consul ACL rules: the JSON form, the HCL block form, and bad input. */
import { expect } from 'chai';
import { InvalidArgumentError } from '../../core/index.ts';
import { GLOBAL_MANAGEMENT_POLICY } from '../../zone-control/src/acl/acl-records.ts';
import { parseRules } from '../../zone-control/src/acl/rules.ts';

function parseError(text: string): InvalidArgumentError {
  try {
    parseRules(text);
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidArgumentError);
    return err as InvalidArgumentError;
  }
  throw new Error('expected the rules to be refused');
}

describe('ACL rules parsing', function () {
  it('reads the HCL block form with exact and prefix rules and whole-system levels', function () {
    const rules = parseRules(`
      # comments of every style are skipped
      key_prefix "app/" { policy = "write" }   // trailing comment
      key "app/locked" {
        policy = "deny"
      }
      /* a service rule */
      service "web" { policy = "read", intentions = "read" }
      operator = "read"
      acl = "write"
    `);
    expect(rules.grants).to.deep.equal([
      { kind: 'key', name: 'app/', prefix: true, level: 'write' },
      { kind: 'key', name: 'app/locked', prefix: false, level: 'deny' },
      { kind: 'service', name: 'web', prefix: false, level: 'read' },
    ]);
    expect(rules.operator).to.equal('read');
    expect(rules.acl).to.equal('write');
  });

  it('reads the JSON form, including HCL-style lists of objects', function () {
    const rules = parseRules(
      JSON.stringify({
        key_prefix: { 'app/': { policy: 'write' } },
        node: [{ n1: [{ policy: 'read' }] }],
        session_prefix: { '': { policy: 'write' } },
        operator: 'deny',
      }),
    );
    expect(rules.grants).to.deep.equal([
      { kind: 'key', name: 'app/', prefix: true, level: 'write' },
      { kind: 'node', name: 'n1', prefix: false, level: 'read' },
      { kind: 'session', name: '', prefix: true, level: 'write' },
    ]);
    expect(rules.operator).to.equal('deny');
  });

  it('reads the builtin global-management rules Consul ships', function () {
    const rules = parseRules(GLOBAL_MANAGEMENT_POLICY.rules);
    expect(rules.acl).to.equal('write');
    expect(rules.operator).to.equal('write');
    expect(rules.grants.map((g) => `${g.kind}:${g.prefix}:${g.level}`)).to.deep.equal([
      'key:true:write',
      'node:true:write',
      'service:true:write',
      'session:true:write',
    ]);
  });

  it('accepts and ignores rule kinds Causeway does not enforce', function () {
    const rules = parseRules(
      'agent_prefix "" { policy = "read" }\nevent "deploy" { policy = "write" }\nkeyring = "read"\nmesh = "write"',
    );
    expect(rules).to.deep.equal({ grants: [] });
  });

  it('treats empty rules as granting nothing', function () {
    expect(parseRules('')).to.deep.equal({ grants: [] });
    expect(parseRules('   \n')).to.deep.equal({ grants: [] });
  });

  it('allows "list" on keys only', function () {
    expect(parseRules('key_prefix "" { policy = "list" }').grants[0]?.level).to.equal('list');
    const err = parseError('service_prefix "" { policy = "list" }');
    expect(err.message).to.equal(
      'Invalid service_prefix policy for "": "list" (must be read, write or deny)',
    );
    expect(err.field).to.equal('Rules');
  });

  it('refuses a rule without a policy, naming the rule', function () {
    expect(parseError('key "a" { }').message).to.equal(
      'Invalid key policy for "a": "" (must be read, write, deny or list)',
    );
  });

  it('refuses an unknown level for operator and acl', function () {
    expect(parseError('operator = "admin"').message).to.equal(
      'Invalid operator policy: "admin" (must be read, write or deny)',
    );
  });

  it('refuses HCL it cannot read and points at the JSON form', function () {
    const err = parseError('key_prefix = { "app/" = { policy = "write" } }');
    expect(err.message).to.match(/^Failed to parse ACL rules: expected a value for "key_prefix"/);
    expect(err.message).to.include('rules must be JSON');
    expect(parseError('key "a" { policy = "read"').message).to.include('found "end of input"');
    expect(parseError('key "a\n" {}').message).to.include('line break inside a string at line 1');
    expect(parseError('key "a" { policy = "read" } }').message).to.include('at line 1');
  });

  it('refuses malformed JSON with the parser message', function () {
    expect(parseError('{"key": ').message).to.match(/^Failed to parse ACL rules: invalid JSON: /);
    expect(parseError('{"key": ["x"]}').message).to.equal(
      'Failed to parse ACL rules: "key" must be an object',
    );
  });

  it('refuses a named rule without exactly one name', function () {
    expect(parseError('key { policy = "read" }').message).to.include('key needs exactly one name');
  });
});

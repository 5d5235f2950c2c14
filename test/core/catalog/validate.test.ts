import { expect } from 'chai';
import { InvalidArgumentError } from '../../../core/src/errors.ts';
import type { CausewayError } from '../../../core/src/errors.ts';
import {
  checkTypeOf,
  validateAddress,
  validateCheck,
  validateInstance,
  validateMeta,
  validateName,
  validateNode,
  validatePort,
  validateRegistration,
  validateServiceDefinition,
  validateStatus,
  validateTags,
} from '../../../core/src/catalog/validate.ts';
import { KUBERNETES, check, instance, node } from './fixtures.ts';

/** The error `fn` throws; fails the test if it returns. */
function thrown(fn: () => unknown): CausewayError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidArgumentError);
    return err as CausewayError;
  }
  expect.fail('expected a throw');
}

describe('catalog validation', function () {
  describe('field rules', function () {
    it("names the field the caller gives, in the caller's spelling", function () {
      const err = thrown(() => validatePort('80', 'Service.Port'));
      expect(err.field).to.equal('Service.Port');
      expect(err.message).to.equal('Service.Port must be an integer from 0 to 65535, got "80"');
    });

    it('takes ports 0 to 65535 and refuses the rest', function () {
      expect(validatePort(0, 'p')).to.equal(0);
      expect(validatePort(65535, 'p')).to.equal(65535);
      for (const bad of [-1, 65536, 1.5, NaN, null]) thrown(() => validatePort(bad, 'p'));
    });

    it('refuses empty names, control characters and names over 256 characters', function () {
      expect(validateName('web', 'n')).to.equal('web');
      expect(thrown(() => validateName('', 'n')).message).to.equal('n must not be empty');
      thrown(() => validateName('a\nb', 'n'));
      thrown(() => validateName('x'.repeat(257), 'n'));
      expect(thrown(() => validateName(42, 'n')).message).to.equal(
        'n must be a string, got number',
      );
    });

    it('refuses wildcard addresses nobody can connect to', function () {
      expect(validateAddress('', 'a', { allowEmpty: true })).to.equal('');
      thrown(() => validateAddress('', 'a'));
      thrown(() => validateAddress('0.0.0.0', 'a'));
      thrown(() => validateAddress('::', 'a'));
      thrown(() => validateAddress('10.0.0.1 ', 'a'));
      expect(validateAddress('web.internal', 'a')).to.equal('web.internal');
    });

    it("applies Consul's metadata limits", function () {
      expect(validateMeta({ version: '1', 'team_a-b': 'x' }, 'Meta')).to.deep.equal({
        version: '1',
        'team_a-b': 'x',
      });
      expect(thrown(() => validateMeta({ 'a b': 'x' }, 'Meta')).field).to.equal('Meta.a b');
      expect(thrown(() => validateMeta({ 'consul-x': 'y' }, 'Meta')).message).to.include(
        'reserved',
      );
      expect(thrown(() => validateMeta({ k: 'v'.repeat(513) }, 'Meta')).message).to.include('512');
      expect(thrown(() => validateMeta({ k: 1 }, 'Meta')).field).to.equal('Meta.k');
      const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
      expect(thrown(() => validateMeta(many, 'Meta')).message).to.include('64');
      thrown(() => validateMeta(['x'], 'Meta'));
    });

    it('wants tags as an array of strings, naming the bad item', function () {
      expect(validateTags(['a', 'b'], 'Tags')).to.deep.equal(['a', 'b']);
      expect(thrown(() => validateTags(['a', 2], 'Tags')).field).to.equal('Tags[1]');
      thrown(() => validateTags('a', 'Tags'));
    });

    it('knows the three health states', function () {
      for (const s of ['passing', 'warning', 'critical'])
        expect(validateStatus(s, 's')).to.equal(s);
      thrown(() => validateStatus('maintenance', 's'));
    });
  });

  describe('records', function () {
    it('accepts whole, valid records', function () {
      validateNode(node());
      validateInstance(instance());
      validateCheck(check());
    });

    it('names the model field of a bad record', function () {
      expect(thrown(() => validateInstance(instance('w', { port: 70000 }))).field).to.equal(
        'service.port',
      );
      expect(thrown(() => validateNode({ ...node(), id: 'not-a-uuid' })).field).to.equal('node.id');
      expect(
        thrown(() => validateInstance(instance('w', { protocol: 'udp' as never }))).field,
      ).to.equal('service.protocol');
      expect(
        thrown(() =>
          validateInstance(instance('w', { source: { kind: 'x' as never, owner: 'o' } })),
        ).field,
      ).to.equal('service.source.kind');
    });

    it('refuses a check the zone is to run but cannot (no HTTP, TCP or TTL)', function () {
      const err = thrown(() => validateCheck(check('c', { definition: {}, type: '' })));
      expect(err.field).to.equal('check.definition');
    });

    it("states Consul's check definition rules", function () {
      expect(
        thrown(() => validateCheck(check('c', { definition: { ttlMs: 1000, intervalMs: 1000 } })))
          .message,
      ).to.include('both an interval and a TTL');
      expect(
        thrown(() => validateCheck(check('c', { type: 'http', definition: { http: 'http://x/' } })))
          .field,
      ).to.equal('check.definition.intervalMs');
      expect(
        thrown(() =>
          validateCheck(check('c', { type: 'tcp', definition: { tcp: 'nohost', intervalMs: 1 } })),
        ).field,
      ).to.equal('check.definition.tcp');
      expect(
        thrown(() =>
          validateCheck(
            check('c', { type: 'http', definition: { http: 'ftp://x/', intervalMs: 1 } }),
          ),
        ).field,
      ).to.equal('check.definition.http');
    });

    it('derives the check type from its definition', function () {
      expect(checkTypeOf({ http: 'http://x', intervalMs: 1 })).to.equal('http');
      expect(checkTypeOf({ tcp: 'x:1', intervalMs: 1 })).to.equal('tcp');
      expect(checkTypeOf({ ttlMs: 1 })).to.equal('ttl');
      expect(checkTypeOf({})).to.equal('');
    });

    it("checks a service definition's ports and protocols", function () {
      const def = { name: 'web', namespace: 'default', tags: [], meta: {} };
      validateServiceDefinition({ ...def, ports: [{ port: 80, protocol: 'http' }] });
      expect(
        thrown(() =>
          validateServiceDefinition({ ...def, ports: [{ port: 80, protocol: 'sctp' as never }] }),
        ).field,
      ).to.equal('service.ports[0].protocol');
      expect(
        thrown(() =>
          validateServiceDefinition({
            ...def,
            ports: [
              { port: 80, protocol: 'http' },
              { port: 80, protocol: 'tcp' },
            ],
          }),
        ).message,
      ).to.include('repeats port 80');
    });
  });

  describe('registrations', function () {
    it('accepts a node with a service and its checks', function () {
      validateRegistration({ node: node(), service: instance(), checks: [check()] });
    });

    it('keeps a registration on one node and one registrar', function () {
      expect(
        thrown(() =>
          validateRegistration({ node: node(), service: instance('w', { node: 'other' }) }),
        ).field,
      ).to.equal('service.node');
      expect(
        thrown(() =>
          validateRegistration({ node: node(), checks: [check('c', { node: 'other' })] }),
        ).field,
      ).to.equal('checks[0].node');
      expect(
        thrown(() =>
          validateRegistration({ node: node(), service: instance('w', { source: KUBERNETES }) }),
        ).field,
      ).to.equal('service.source');
    });

    it('refuses the same check ID twice', function () {
      const err = thrown(() =>
        validateRegistration({ node: node(), service: instance(), checks: [check(), check()] }),
      );
      expect(err.field).to.equal('checks[1].checkId');
    });

    it('checks only the node name when the node is not to be updated', function () {
      validateRegistration({ node: { ...node(), address: '' }, skipNodeUpdate: true });
    });
  });
});

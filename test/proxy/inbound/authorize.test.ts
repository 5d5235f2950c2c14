import { expect } from 'chai';
import { decodeProxyConfig } from '../../../core/index.ts';
import type { Authorization } from '../../../core/index.ts';
import { authorize } from '../../../proxy/src/inbound/authorize.ts';
import type { PeerIdentity } from '../../../proxy/src/mesh-tls.ts';

function peer(service: string, namespace = 'default', zone = 'east'): PeerIdentity {
  return {
    spiffeId: `spiffe://causeway.mesh/zone/${zone}/ns/${namespace}/svc/${service}`,
    service,
    namespace,
    zone,
  };
}

/** Authorization exactly as a snapshot carries it (decoded, defaults filled in). */
function policy(authorization: unknown): Authorization {
  return decodeProxyConfig({
    service: 'api',
    zone: 'east',
    trustDomain: 'causeway.mesh',
    inbound: { port: 15006, authorization },
    outbound: [],
    clusters: [],
  }).inbound.authorization;
}

const get = (path: string, headers = {}) => ({ method: 'GET', path, headers });

describe('inbound authorization', function () {
  it('allows everyone when there are no rules and the default is allow', function () {
    expect(authorize(policy({}), peer('web')).allowed).to.equal(true);
  });

  it('denies callers no rule allows when the default is deny, naming the default', function () {
    const authz = policy({
      defaultAction: 'deny',
      rules: [{ action: 'allow', source: { service: 'web' } }],
    });
    expect(authorize(authz, peer('web'))).to.deep.equal({
      allowed: true,
      rule: 0,
      reason: 'rule 0 (allow)',
    });
    expect(authorize(authz, peer('batch'))).to.deep.equal({
      allowed: false,
      rule: undefined,
      reason: 'default (deny)',
    });
  });

  it('matches the source by service, namespace and zone, with * or absence matching any', function () {
    const authz = policy({
      defaultAction: 'deny',
      rules: [
        { action: 'allow', source: { service: 'web', namespace: 'shop', zone: 'east' } },
        { action: 'allow', source: { service: '*', namespace: 'ops' } },
        { action: 'allow', source: { zone: 'west' } },
      ],
    });
    expect(authorize(authz, peer('web', 'shop', 'east')).rule).to.equal(0);
    expect(authorize(authz, peer('web', 'default', 'east')).allowed).to.equal(false);
    expect(authorize(authz, peer('web', 'shop', 'north')).allowed).to.equal(false);
    expect(authorize(authz, peer('anything', 'ops')).rule).to.equal(1);
    expect(authorize(authz, peer('batch', 'default', 'west')).rule).to.equal(2);
  });

  it('lets the first matching rule decide, so a deny before an allow wins', function () {
    const authz = policy({
      defaultAction: 'allow',
      rules: [
        { action: 'deny', source: { service: 'web', namespace: 'default' } },
        { action: 'allow', source: { service: 'web' } },
      ],
    });
    expect(authorize(authz, peer('web'))).to.include({ allowed: false, rule: 0 });
    expect(authorize(authz, peer('web', 'shop'))).to.include({ allowed: true, rule: 1 });
  });

  it('applies an L7 rule only when one of its matches fits the request, else falls through', function () {
    const authz = policy({
      defaultAction: 'deny',
      rules: [
        { action: 'deny', source: { service: 'web' }, http: [{ pathPrefix: '/admin' }] },
        {
          action: 'allow',
          source: { service: 'web' },
          http: [
            { pathPrefix: '/api', methods: ['GET', 'HEAD'] },
            {
              pathExact: '/upload',
              methods: ['POST'],
              headers: [{ name: 'x-tenant', present: true }],
            },
          ],
        },
      ],
    });
    expect(authorize(authz, peer('web'), get('/admin/users'))).to.include({
      allowed: false,
      rule: 0,
    });
    expect(authorize(authz, peer('web'), get('/api/users'))).to.include({ allowed: true, rule: 1 });
    expect(authorize(authz, peer('web'), { ...get('/api/users'), method: 'DELETE' })).to.include({
      allowed: false,
      rule: undefined,
    });
    const upload = { method: 'POST', path: '/upload', headers: { 'x-tenant': 'a' } };
    expect(authorize(authz, peer('web'), upload).allowed).to.equal(true);
    expect(authorize(authz, peer('web'), { ...upload, headers: {} }).allowed).to.equal(false);
  });

  it('never applies rules with http permissions to TCP connections', function () {
    const authz = policy({
      defaultAction: 'allow',
      rules: [{ action: 'deny', source: { service: 'web' }, http: [{ pathPrefix: '/' }] }],
    });
    expect(authorize(authz, peer('web'))).to.deep.equal({
      allowed: true,
      rule: undefined,
      reason: 'default (allow)',
    });
    expect(authorize(authz, peer('web'), get('/')).allowed).to.equal(false);
  });
});

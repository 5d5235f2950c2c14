import type { PeerCertificate } from 'node:tls';
import { expect } from 'chai';
import {
  peerSpiffeId,
  spiffeServerIdentityCheck,
  verifyLeafChain,
} from '../../../core/src/ca/index.ts';
import type { IssuerCa } from '../../../core/src/ca/index.ts';
import { PermissionDeniedError } from '../../../core/src/errors.ts';
import type { Keys } from './fixtures.ts';
import {
  eastChain,
  makeIntermediate,
  makeLeaf,
  makeRoot,
  opensslVerify,
  rogueLeaf,
  workloadId,
} from './fixtures.ts';

describe('ca/verify', function () {
  let keys: Keys;
  let root: IssuerCa;
  let east: IssuerCa;
  let leaf: string;
  const api = workloadId('east', 'api');

  before(async function () {
    ({ keys, root, east, leaf } = await eastChain());
  });

  it('returns the SPIFFE ID of a trusted chain, given as a list or one PEM bundle', function () {
    expect(verifyLeafChain([leaf, east.certificatePem], [root.certificatePem]).spiffeId).to.equal(
      api,
    );
    const verified = verifyLeafChain(leaf + east.certificatePem, [root.certificatePem]);
    expect(verified.id).to.deep.include({ kind: 'workload', zone: 'east', service: 'api' });
  });

  it('refuses a leaf from another root', function () {
    const other = makeRoot(keys.otherRoot);
    const otherEast = makeIntermediate(other, 'east', keys.east);
    const foreign = makeLeaf(otherEast, api, keys.leafA);
    expect(() =>
      verifyLeafChain([foreign, otherEast.certificatePem], [root.certificatePem]),
    ).to.throw(PermissionDeniedError, /not signed by any root in the trust bundle/);
    // ... and accepts it once that root is in the bundle (rotation).
    expect(
      verifyLeafChain(
        [foreign, otherEast.certificatePem],
        [root.certificatePem, other.certificatePem],
      ).spiffeId,
    ).to.equal(api);
  });

  it('refuses a leaf presented with the wrong intermediate', function () {
    const west = makeIntermediate(root, 'west', keys.west);
    expect(() => verifyLeafChain([leaf, west.certificatePem], [root.certificatePem])).to.throw(
      PermissionDeniedError,
      /not signed by the intermediate/,
    );
  });

  it('refuses an expired leaf', function () {
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    const expired = makeLeaf(east, api, keys.leafA, { now: twoDaysAgo, validityMs: 3_600_000 });
    expect(() => verifyLeafChain([expired, east.certificatePem], [root.certificatePem])).to.throw(
      PermissionDeniedError,
      /leaf expired/,
    );
    expect(opensslVerify(root.certificatePem, east.certificatePem, expired).output).to.match(
      /certificate has expired/,
    );
  });

  it('refuses a leaf that is not yet valid at `now`', function () {
    expect(() =>
      verifyLeafChain([leaf, east.certificatePem], [root.certificatePem], {
        now: new Date(Date.now() - 3_600_000),
      }),
    ).to.throw(PermissionDeniedError, /not valid before/);
  });

  describe('zone scoping (name constraints)', function () {
    it('refuses a leaf naming another zone than its intermediate, which OpenSSL accepts', function () {
      // What a compromised east zone could mint: bypasses signLeafCertificate's check.
      const westId = workloadId('west', 'payments');
      const rogue = rogueLeaf(east, westId, keys.leafB);
      expect(() => verifyLeafChain([rogue, east.certificatePem], [root.certificatePem])).to.throw(
        PermissionDeniedError,
        /outside the intermediate's scope \(O=mesh\.test, OU=zone\/east\)/,
      );
      // OpenSSL enforces URI constraints on the host only, so the zone path is ours to check.
      expect(opensslVerify(root.certificatePem, east.certificatePem, rogue).ok).to.equal(true);
    });

    it('has OpenSSL refuse a leaf from another trust domain (the encoded constraint)', function () {
      const rogue = rogueLeaf(east, 'spiffe://evil.test/zone/east/ns/default/svc/api', keys.leafB);
      const result = opensslVerify(root.certificatePem, east.certificatePem, rogue);
      expect(result.ok).to.equal(false);
      expect(result.output).to.match(/permitted subtree violation/);
      expect(() => verifyLeafChain([rogue, east.certificatePem], [root.certificatePem])).to.throw(
        PermissionDeniedError,
      );
    });

    it('shows OpenSSL cannot use a path-style constraint: even valid leaves fail', function () {
      const pathScoped = makeIntermediate(root, 'east', keys.east, [
        'spiffe://mesh.test/zone/east/',
      ]);
      const valid = makeLeaf(pathScoped, api, keys.leafA);
      const result = opensslVerify(root.certificatePem, pathScoped.certificatePem, valid);
      expect(result.ok).to.equal(false);
      expect(result.output).to.match(/permitted subtree violation/);
    });
  });

  describe('TLS identity helpers', function () {
    const peer = (subjectaltname: string) => ({ subjectaltname }) as PeerCertificate;

    it('reads the peer SPIFFE ID from subjectaltname', function () {
      expect(peerSpiffeId(peer(`URI:${api}`))).to.equal(api);
      expect(peerSpiffeId(peer(`URI:${api}, DNS:api.example`))).to.equal(undefined);
      expect(peerSpiffeId(undefined)).to.equal(undefined);
    });

    it('checks the server SPIFFE ID instead of the hostname', function () {
      const check = spiffeServerIdentityCheck([api, workloadId('west', 'api')]);
      expect(check('localhost', peer(`URI:${api}`))).to.equal(undefined);
      expect(check('localhost', peer(`URI:${workloadId('east', 'db')}`)))
        .to.be.instanceOf(PermissionDeniedError)
        .with.property('message')
        .that.includes('svc/db is not');
      expect(check('localhost', peer('DNS:localhost'))).to.be.instanceOf(PermissionDeniedError);
    });
  });
});

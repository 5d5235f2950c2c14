import { X509Certificate, createHash } from 'node:crypto';
import { expect } from 'chai';
import {
  certificatePin,
  createCsr,
  globalSpiffeId,
  signGlobalCertificate,
  signLeafCertificate,
  verifyGlobalChain,
  verifyLeafChain,
} from '../../../core/src/ca/index.ts';
import type { IssuerCa } from '../../../core/src/ca/index.ts';
import { InvalidArgumentError, PermissionDeniedError } from '../../../core/src/errors.ts';
import type { Keys } from './fixtures.ts';
import {
  TD,
  makeIntermediate,
  makeRoot,
  opensslVerify,
  rogueLeaf,
  testKeys,
  workloadId,
} from './fixtures.ts';

describe('ca/global-identity', function () {
  let keys: Keys;
  let root: IssuerCa;
  let leaf: string;
  before(async function () {
    keys = await testKeys();
    root = makeRoot(keys.root);
    leaf = signGlobalCertificate({ root, trustDomain: TD, publicKey: keys.leafA.publicKey });
  });

  it('signs spiffe://<td>/global directly under the root: its only SAN, serverAuth and clientAuth', function () {
    const cert = new X509Certificate(leaf);
    expect(cert.subjectAltName).to.equal(`URI:${globalSpiffeId(TD)}`);
    expect(cert.ca).to.equal(false);
    expect(cert.checkIssued(new X509Certificate(root.certificatePem))).to.equal(true);
    expect(cert.keyUsage).to.have.members(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    // 24 h by default, notBefore backdated a minute.
    const life = Date.parse(cert.validTo) - Date.parse(cert.validFrom);
    expect(life).to.be.closeTo(24 * 3_600_000 + 60_000, 2000);
    // OpenSSL agrees: root → leaf with nothing between.
    expect(opensslVerify(root.certificatePem, root.certificatePem, leaf).ok).to.equal(true);
  });

  it('verifies the global leaf against the bundle', function () {
    const verified = verifyGlobalChain(leaf, [root.certificatePem], { trustDomain: TD });
    expect(verified.spiffeId).to.equal(`spiffe://${TD}/global`);
    expect(verified.trustDomain).to.equal(TD);
    expect(verified.root.fingerprint256).to.equal(
      new X509Certificate(root.certificatePem).fingerprint256,
    );
  });

  it('refuses a global identity minted by a zone intermediate (which plain TLS would accept)', function () {
    const east = makeIntermediate(root, 'east', keys.east);
    const forged = rogueLeaf(east, globalSpiffeId(TD), keys.leafB);
    // OpenSSL only checks the trust domain in the name constraint: it accepts it.
    expect(opensslVerify(root.certificatePem, east.certificatePem, forged).ok).to.equal(true);
    expect(() => verifyGlobalChain(forged + east.certificatePem, [root.certificatePem]))
      .to.throw(PermissionDeniedError)
      .with.property('message')
      .that.includes('not signed directly by a root');
  });

  it('refuses the global leaf as a zone identity in verifyLeafChain', function () {
    expect(() => verifyLeafChain([leaf, root.certificatePem], [root.certificatePem]))
      .to.throw(PermissionDeniedError)
      .with.property('message')
      .that.includes("global control plane's identity");
  });

  it('is never signed by a zone intermediate through signLeafCertificate', function () {
    const east = makeIntermediate(root, 'east', keys.east);
    expect(() =>
      signLeafCertificate({
        issuer: east,
        spiffeId: globalSpiffeId(TD),
        csrPem: createCsr({ keyPair: keys.leafB, spiffeId: globalSpiffeId(TD) }),
      }),
    )
      .to.throw(InvalidArgumentError)
      .with.property('message')
      .that.includes("global control plane's identity");
  });

  it('refuses a workload leaf, another trust domain, an untrusted root and an expired leaf', function () {
    const workload = rogueLeaf(root, workloadId('east', 'api'), keys.leafB);
    expect(() => verifyGlobalChain(workload, [root.certificatePem])).to.throw(
      PermissionDeniedError,
      /must be spiffe:\/\/<trust-domain>\/global/,
    );
    expect(() =>
      verifyGlobalChain(leaf, [root.certificatePem], { trustDomain: 'other.test' }),
    ).to.throw(PermissionDeniedError, /not other\.test/);
    const other = makeRoot(keys.otherRoot);
    expect(() => verifyGlobalChain(leaf, [other.certificatePem])).to.throw(
      PermissionDeniedError,
      /not signed directly by a root/,
    );
    const later = new Date(Date.now() + 25 * 3_600_000);
    expect(() => verifyGlobalChain(leaf, [root.certificatePem], { now: later })).to.throw(
      PermissionDeniedError,
      /the leaf expired/,
    );
    expect(() => verifyGlobalChain('', [root.certificatePem]))
      .to.throw(InvalidArgumentError)
      .with.property('field', 'chain');
  });

  it('refuses to sign with a zone intermediate, a root of another trust domain or a mismatched key', function () {
    const east = makeIntermediate(root, 'east', keys.east);
    const publicKey = keys.leafA.publicKey;
    expect(() => signGlobalCertificate({ root: east, trustDomain: TD, publicKey }))
      .to.throw(InvalidArgumentError)
      .with.property('field', 'root');
    expect(() => signGlobalCertificate({ root, trustDomain: 'other.test', publicKey })).to.throw(
      InvalidArgumentError,
      /not of the trust domain other\.test/,
    );
    expect(() =>
      signGlobalCertificate({
        root: { certificatePem: root.certificatePem, privateKey: keys.otherRoot.privateKey },
        trustDomain: TD,
        publicKey,
      }),
    ).to.throw(InvalidArgumentError, /does not match/);
    expect(() =>
      signGlobalCertificate({ root, trustDomain: TD, publicKey: keys.weak.publicKey }),
    ).to.throw(InvalidArgumentError, /RSA-1024/);
  });

  it("never signs past the root's expiry, and certifies RSA keys too", function () {
    const short = signGlobalCertificate({
      root,
      trustDomain: TD,
      publicKey: keys.rsaLeaf.publicKey,
      validityMs: 20 * 365 * 24 * 3_600_000,
    });
    const cert = new X509Certificate(short);
    expect(cert.validTo).to.equal(new X509Certificate(root.certificatePem).validTo);
    expect(verifyGlobalChain(short, [root.certificatePem]).spiffeId).to.equal(globalSpiffeId(TD));
  });

  it('pins a certificate as the SHA-256 of its DER in lowercase hex', function () {
    const der = new X509Certificate(root.certificatePem).raw;
    expect(certificatePin(root.certificatePem)).to.equal(
      createHash('sha256').update(der).digest('hex'),
    );
    expect(certificatePin(root.certificatePem)).to.match(/^[0-9a-f]{64}$/);
  });
});

import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import {
  DEFAULT_LEAF_VALIDITY_MS,
  createCsr,
  formatSpiffeId,
  randomSerial,
  signIntermediateCertificate,
  signLeafCertificate,
  verifyLeafChain,
} from '../../../core/src/ca/index.ts';
import type { IssuerCa } from '../../../core/src/ca/index.ts';
import { InvalidArgumentError, PermissionDeniedError } from '../../../core/src/errors.ts';
import type { Keys } from './fixtures.ts';
import { eastChain, TD, makeLeaf, opensslVerify, workloadId } from './fixtures.ts';

describe('ca/certificates', function () {
  let keys: Keys;
  let root: IssuerCa;
  let east: IssuerCa;
  let leaf: string;
  const api = workloadId('east', 'api');

  before(async function () {
    ({ keys, root, east, leaf } = await eastChain());
  });

  it('creates a self-signed 10-year root CA with SKI = AKI', function () {
    const cert = new X509Certificate(root.certificatePem);
    expect(cert.ca).to.equal(true);
    expect(cert.checkIssued(cert)).to.equal(true);
    expect(cert.verify(cert.publicKey)).to.equal(true);
    const years = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / (365 * 86_400_000);
    expect(years).to.be.closeTo(10, 0.01);
    const text = opensslText(root.certificatePem);
    const ski = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(text)?.[1];
    expect(ski).to.be.a('string');
    expect(text).to.match(/Authority Key Identifier:\s+(keyid:)?([0-9A-F:]+)/);
    expect(/Authority Key Identifier:\s+(?:keyid:)?([0-9A-F:]+)/.exec(text)?.[1]).to.equal(ski);
    expect(text)
      .to.match(/CA:TRUE/)
      .and.not.match(/pathlen/);
  });

  it('signs a zone intermediate with pathLen 0 and a trust-domain URI name constraint', function () {
    const text = opensslText(east.certificatePem);
    expect(text).to.match(/CA:TRUE, pathlen:0/);
    expect(text).to.match(/Certificate Sign, CRL Sign/);
    expect(text).to.match(/X509v3 Name Constraints: critical\s+Permitted:\s+URI:mesh\.test\n/);
    expect(new X509Certificate(east.certificatePem).subject).to.include('OU=zone/east');
  });

  it('signs a 24 h leaf with serverAuth+clientAuth whose only SAN is the SPIFFE ID', function () {
    const cert = new X509Certificate(leaf);
    expect(cert.ca).to.equal(false);
    expect(cert.subjectAltName).to.equal(`URI:${api}`);
    expect(cert.keyUsage).to.have.members(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    const ms = Date.parse(cert.validTo) - Date.parse(cert.validFrom);
    expect(ms).to.be.closeTo(DEFAULT_LEAF_VALIDITY_MS + 60_000, 1_000); // notBefore is backdated 1 min
  });

  it('uses random positive 128-bit serials', function () {
    const serials = new Set(Array.from({ length: 100 }, () => randomSerial()));
    expect(serials.size).to.equal(100);
    for (const s of serials) expect(s).to.match(/^01[0-9a-f]{32}$/);
    expect(new X509Certificate(leaf).serialNumber).to.match(/^01[0-9A-F]{32}$/);
  });

  it('builds a root → intermediate(east) → leaf chain that X509Certificate verifies', function () {
    const r = new X509Certificate(root.certificatePem);
    const i = new X509Certificate(east.certificatePem);
    const l = new X509Certificate(leaf);
    expect(l.checkIssued(i) && l.verify(i.publicKey)).to.equal(true);
    expect(i.checkIssued(r) && i.verify(r.publicKey)).to.equal(true);
    expect(verifyLeafChain([leaf, east.certificatePem], [root.certificatePem]).spiffeId).to.equal(
      api,
    );
  });

  it('builds a chain that `openssl verify` accepts', function () {
    const result = opensslVerify(root.certificatePem, east.certificatePem, leaf);
    expect(result.output).to.match(/leaf\.pem: OK/);
    expect(result.ok).to.equal(true);
  });

  it('refuses to sign a leaf outside the issuing intermediate zone', function () {
    const west = workloadId('west', 'api');
    expect(() =>
      signLeafCertificate({
        issuer: east,
        spiffeId: west,
        csrPem: createCsr({ keyPair: keys.leafA, spiffeId: west }),
      }),
    ).to.throw(PermissionDeniedError, /zone east CA cannot sign/);
  });

  it('refuses to sign leaves with the root', function () {
    expect(() => makeLeaf(root, api, keys.leafA)).to.throw(
      InvalidArgumentError,
      /zone intermediate/,
    );
  });

  it('refuses an intermediate CSR that is not the zone control identity', function () {
    const csrPem = createCsr({
      keyPair: keys.east,
      spiffeId: formatSpiffeId({ kind: 'control', trustDomain: TD, zone: 'west' }),
    });
    expect(() =>
      signIntermediateCertificate({ issuer: root, trustDomain: TD, zone: 'east', csrPem }),
    ).to.throw(PermissionDeniedError);
  });

  it('never lets a leaf outlive its intermediate', function () {
    const shortInter = {
      ...east,
      certificatePem: signIntermediateCertificate({
        issuer: root,
        trustDomain: TD,
        zone: 'east',
        validityMs: 3_600_000,
        csrPem: createCsr({
          keyPair: keys.east,
          spiffeId: formatSpiffeId({ kind: 'control', trustDomain: TD, zone: 'east' }),
        }),
      }),
    };
    const l = new X509Certificate(makeLeaf(shortInter, api, keys.leafA));
    expect(l.validTo).to.equal(new X509Certificate(shortInter.certificatePem).validTo);
  });
});

function opensslText(pem: string): string {
  // Render with openssl, as operators will see it.
  return execText(['x509', '-noout', '-text'], pem);
}

function execText(args: string[], input: string): string {
  return execFileSync('openssl', args, { input, encoding: 'utf8' });
}

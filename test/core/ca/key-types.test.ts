import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import forge from 'node-forge';
import {
  createCsr,
  createRootCertificate,
  generateKeyPair,
  privateKeyToPem,
  signIntermediateCertificate,
  verifyLeafChain,
} from '../../../core/src/ca/index.ts';
import type { IssuerCa, KeyPair } from '../../../core/src/ca/index.ts';
import { InvalidArgumentError } from '../../../core/src/errors.ts';
import type { Keys } from './fixtures.ts';
import {
  TD,
  makeIntermediate,
  makeLeaf,
  makeRoot,
  opensslVerify,
  testKeys,
  workloadId,
} from './fixtures.ts';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

const SIGNATURE_ALGORITHM = {
  rsa: { oid: '1.2.840.113549.1.1.11', text: 'sha256WithRSAEncryption' },
  ec: { oid: '1.2.840.10045.4.3.2', text: 'ecdsa-with-SHA256' },
} as const;

describe('ca key types: ECDSA P-256 by default, RSA and mixed chains', function () {
  let keys: Keys;
  const api = workloadId('east', 'api');

  before(async function () {
    keys = await testKeys();
  });

  it('generates ECDSA P-256 keys unless asked for RSA', async function () {
    const ec = await generateKeyPair();
    expect(ec.publicKey.asymmetricKeyType).to.equal('ec');
    expect(ec.publicKey.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
    const rsa = await generateKeyPair({ type: 'rsa', bits: 2048 });
    expect(rsa.publicKey.asymmetricKeyDetails?.modulusLength).to.equal(2048);
  });

  const chains = [
    { name: 'EC root → EC intermediate → EC leaf', root: 'root', inter: 'east', leaf: 'leafA' },
    {
      name: 'RSA root → RSA intermediate → RSA leaf',
      root: 'rsaRoot',
      inter: 'rsaEast',
      leaf: 'rsaLeaf',
    },
    { name: 'RSA root → EC intermediate → EC leaf', root: 'rsaRoot', inter: 'east', leaf: 'leafA' },
    { name: 'EC root → EC intermediate → RSA leaf', root: 'root', inter: 'east', leaf: 'rsaLeaf' },
  ] as const;

  for (const chain of chains) {
    describe(chain.name, function () {
      let root: IssuerCa;
      let inter: IssuerCa;
      let leaf: string;

      before(function () {
        root = makeRoot(keys[chain.root]);
        inter = makeIntermediate(root, 'east', keys[chain.inter]);
        leaf = makeLeaf(inter, api, keys[chain.leaf]);
      });

      it('verifies with X509Certificate, verifyLeafChain and `openssl verify`', function () {
        const r = new X509Certificate(root.certificatePem);
        const i = new X509Certificate(inter.certificatePem);
        const l = new X509Certificate(leaf);
        expect(r.checkIssued(r) && r.verify(r.publicKey)).to.equal(true);
        expect(i.checkIssued(r) && i.verify(r.publicKey)).to.equal(true);
        expect(l.checkIssued(i) && l.verify(i.publicKey)).to.equal(true);
        expect(
          verifyLeafChain([leaf, inter.certificatePem], [root.certificatePem]).spiffeId,
        ).to.equal(api);
        const result = opensslVerify(root.certificatePem, inter.certificatePem, leaf);
        expect(result.output).to.match(/leaf\.pem: OK/);
        expect(result.ok).to.equal(true);
      });

      it("carries each subject's key and is signed with its issuer's algorithm", function () {
        for (const [pem, subject, issuer] of [
          [root.certificatePem, chain.root, chain.root],
          [inter.certificatePem, chain.inter, chain.root],
          [leaf, chain.leaf, chain.inter],
        ] as const) {
          const cert = new X509Certificate(pem);
          expect(cert.publicKey.equals(keys[subject].publicKey)).to.equal(true);
          const expected = SIGNATURE_ALGORITHM[keyType(keys[issuer])];
          const { tbsAlgorithm, outerAlgorithm } = algorithms(cert);
          expect(outerAlgorithm).to.equal(tbsAlgorithm);
          const parsed = asn1.fromDer(tbsAlgorithm);
          expect(asn1.derToOid((parsed.value as Asn1[])[0]?.value as string)).to.equal(
            expected.oid,
          );
          // RSA carries NULL parameters; ECDSA none (RFC 5758 §3.2).
          expect((parsed.value as Asn1[]).length).to.equal(keyType(keys[issuer]) === 'rsa' ? 2 : 1);
          expect(opensslText(pem)).to.include(`Signature Algorithm: ${expected.text}`);
        }
      });

      it("copies the issuer's subject bytes into each child's issuer", function () {
        const r = tbsFields(new X509Certificate(root.certificatePem));
        const i = tbsFields(new X509Certificate(inter.certificatePem));
        const l = tbsFields(new X509Certificate(leaf));
        expect(r.issuer).to.equal(r.subject);
        expect(i.issuer).to.equal(r.subject);
        expect(l.issuer).to.equal(i.subject);
      });

      it('sets SKI by RFC 5280 method 1 and AKI to the issuer SKI', function () {
        const ids = (pem: string) => {
          const text = opensslText(pem);
          return {
            ski: /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(text)?.[1],
            aki: /Authority Key Identifier:\s+(?:keyid:)?([0-9A-F:]+)/.exec(text)?.[1],
          };
        };
        const r = ids(root.certificatePem);
        const i = ids(inter.certificatePem);
        const l = ids(leaf);
        expect(r.ski).to.equal(methodOneKeyId(keys[chain.root]));
        expect(i.ski).to.equal(methodOneKeyId(keys[chain.inter]));
        expect(l.ski).to.equal(methodOneKeyId(keys[chain.leaf]));
        expect([r.aki, i.aki, l.aki]).to.deep.equal([r.ski, r.ski, i.ski]);
      });
    });
  }

  it('asks for keyEncipherment only in RSA leaves (RFC 5480 §3 forbids it for EC)', function () {
    const east = makeIntermediate(makeRoot(keys.root), 'east', keys.east);
    expect(opensslText(makeLeaf(east, api, keys.leafA))).to.match(
      /Key Usage: critical\s+Digital Signature\n/,
    );
    expect(opensslText(makeLeaf(east, api, keys.rsaLeaf))).to.match(
      /Key Usage: critical\s+Digital Signature, Key Encipherment\n/,
    );
  });

  it('encodes times from 2050 on as GeneralizedTime, before as UTCTime', function () {
    const root = createRootCertificate({
      trustDomain: TD,
      keyPair: keys.root,
      now: new Date('2045-06-01T00:00:00Z'),
    });
    const cert = new X509Certificate(root);
    expect(new Date(cert.validFrom).getUTCFullYear()).to.equal(2045);
    expect(new Date(cert.validTo).getUTCFullYear()).to.equal(2055);
    const [notBefore, notAfter] = tbsNodes(cert)[3]?.value as Asn1[];
    expect(notBefore?.type).to.equal(asn1.Type.UTCTIME);
    expect(notAfter?.type).to.equal(asn1.Type.GENERALIZEDTIME);
    expect(notAfter?.value).to.match(/^2055\d{10}Z$/);
  });

  it('refuses a root key it would not accept in a CSR', function () {
    for (const [keyPair, message] of [
      [keys.p384, 'root key is EC on secp384r1; only P-256 (prime256v1) or RSA 2048-8192'],
      [keys.weak, 'root key is RSA-1024; at least RSA-2048 is required'],
    ] as const) {
      expect(() => createRootCertificate({ trustDomain: TD, keyPair }))
        .to.throw(InvalidArgumentError, message)
        .with.property('field', 'keyPair');
    }
  });

  it('refuses an issuer whose private key does not match its certificate', function () {
    const root = makeRoot(keys.root);
    const csrPem = createCsr({ keyPair: keys.east, spiffeId: `spiffe://${TD}/zone/east/control` });
    expect(() =>
      signIntermediateCertificate({
        issuer: { certificatePem: root.certificatePem, privateKey: keys.otherRoot.privateKey },
        trustDomain: TD,
        zone: 'east',
        csrPem,
      }),
    ).to.throw(InvalidArgumentError, /issuer private key does not match/);
  });

  describe('an imported RSA root made by OpenSSL', function () {
    let dir: string;
    let imported: IssuerCa;

    before(function () {
      // PrintableStrings, a multi-valued RDN and a SKI that is not a SHA-1 of the key: none
      // can be reproduced from parsed fields, only copied.
      dir = mkdtempSync(join(tmpdir(), 'causeway-ca-'));
      writeFileSync(join(dir, 'key.pem'), privateKeyToPem(keys.rsaRoot.privateKey));
      writeFileSync(
        join(dir, 'ext.cnf'),
        [
          '[req]',
          'distinguished_name = dn',
          'string_mask = default',
          'x509_extensions = ca',
          '[dn]',
          '[ca]',
          'basicConstraints = critical, CA:TRUE',
          'keyUsage = critical, keyCertSign, cRLSign',
          'subjectKeyIdentifier = 00:11:22:33:44:55:66:77',
          '',
        ].join('\n'),
      );
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-config',
          'ext.cnf',
          '-key',
          'key.pem',
          '-days',
          '30',
          '-multivalue-rdn',
          '-subj',
          `/O=${TD}+CN=Imported root/C=NL`,
          '-out',
          'root.pem',
        ],
        { cwd: dir, stdio: 'pipe' },
      );
      imported = {
        certificatePem: readFileSync(join(dir, 'root.pem'), 'utf8'),
        privateKey: keys.rsaRoot.privateKey,
      };
    });

    after(function () {
      rmSync(dir, { recursive: true, force: true });
    });

    it('issues an EC intermediate whose issuer and AKI match it exactly', function () {
      const inter = makeIntermediate(imported, 'east', keys.east);
      const leaf = makeLeaf(inter, api, keys.leafA);
      const r = new X509Certificate(imported.certificatePem);
      const i = new X509Certificate(inter.certificatePem);
      expect(tbsFields(i).issuer).to.equal(tbsFields(r).subject);
      expect(r.subject).to.equal('O=mesh.test + CN=Imported root\nC=NL');
      expect(opensslAsn1(imported.certificatePem)).to.match(/PRINTABLESTRING +:mesh\.test/);
      expect(opensslText(inter.certificatePem)).to.match(
        /Authority Key Identifier:\s+(keyid:)?00:11:22:33:44:55:66:77\n/,
      );
      expect(i.checkIssued(r) && i.verify(r.publicKey)).to.equal(true);
      expect(opensslVerify(imported.certificatePem, inter.certificatePem, leaf).ok).to.equal(true);
    });
  });
});

function keyType(keyPair: KeyPair): 'rsa' | 'ec' {
  return keyPair.publicKey.asymmetricKeyType === 'rsa' ? 'rsa' : 'ec';
}

/** SHA-1 of the key bits, computed from the key itself rather than from any DER we wrote. */
function methodOneKeyId(keyPair: KeyPair): string {
  const key = keyPair.publicKey;
  let bits: Buffer;
  if (key.asymmetricKeyType === 'ec') {
    const jwk = key.export({ format: 'jwk' });
    bits = Buffer.concat([
      Buffer.from([0x04]),
      Buffer.from(jwk.x ?? '', 'base64url'),
      Buffer.from(jwk.y ?? '', 'base64url'),
    ]);
  } else {
    bits = key.export({ type: 'pkcs1', format: 'der' });
  }
  const hex = createHash('sha1').update(bits).digest('hex').toUpperCase();
  return hex.match(/../g)?.join(':') ?? '';
}

function tbsNodes(cert: X509Certificate): Asn1[] {
  const certificate = asn1.fromDer(cert.raw.toString('binary'));
  return ((certificate.value as Asn1[])[0]?.value as Asn1[]).slice(1); // skip [0] version
}

/** DER (binary strings) of a certificate's subject and issuer Names. */
function tbsFields(cert: X509Certificate): { issuer: string; subject: string } {
  const nodes = tbsNodes(cert);
  const der = (node: Asn1 | undefined) => (node ? asn1.toDer(node).getBytes() : '');
  return { issuer: der(nodes[2]), subject: der(nodes[4]) };
}

/** DER (binary strings) of the AlgorithmIdentifier inside the TBS and outside it. */
function algorithms(cert: X509Certificate): { tbsAlgorithm: string; outerAlgorithm: string } {
  const certificate = asn1.fromDer(cert.raw.toString('binary'));
  const der = (node: Asn1 | undefined) => (node ? asn1.toDer(node).getBytes() : '');
  return {
    tbsAlgorithm: der(tbsNodes(cert)[1]),
    outerAlgorithm: der((certificate.value as Asn1[])[1]),
  };
}

function opensslAsn1(pem: string): string {
  return execFileSync('openssl', ['asn1parse'], { input: pem, encoding: 'utf8' });
}

function opensslText(pem: string): string {
  return execFileSync('openssl', ['x509', '-noout', '-text'], { input: pem, encoding: 'utf8' });
}

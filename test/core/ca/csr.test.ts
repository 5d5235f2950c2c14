import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { expect } from 'chai';
import forge from 'node-forge';
import { createCsr, validateCsr } from '../../../core/src/ca/index.ts';
import type { KeyPair } from '../../../core/src/ca/index.ts';
import { InvalidArgumentError, PermissionDeniedError } from '../../../core/src/errors.ts';
import type { Keys } from './fixtures.ts';
import { testKeys, workloadId } from './fixtures.ts';

const { asn1 } = forge;

describe('ca/csr', function () {
  let keys: Keys;
  const api = workloadId('east', 'api');

  before(async function () {
    keys = await testKeys();
  });

  it('accepts an EC P-256 CSR for exactly the entitled SPIFFE ID', function () {
    const csr = validateCsr(createCsr({ keyPair: keys.leafA, spiffeId: api }), api);
    expect(csr).to.have.all.keys('publicKey', 'subjectPublicKeyInfo', 'keyType', 'spiffeId');
    expect(csr.subjectPublicKeyInfo).to.deep.equal(
      keys.leafA.publicKey.export({ type: 'spki', format: 'der' }),
    );
    expect(csr.spiffeId).to.equal(api);
    expect(csr.keyType).to.equal('ec');
    expect(csr.publicKey.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
    expect(csr.publicKey.equals(keys.leafA.publicKey)).to.equal(true);
  });

  it('accepts an RSA-2048 CSR', function () {
    const csr = validateCsr(createCsr({ keyPair: keys.rsaLeaf, spiffeId: api }), api);
    expect(csr.keyType).to.equal('rsa');
    expect(csr.publicKey.asymmetricKeyDetails?.modulusLength).to.equal(2048);
  });

  it('writes a CSR that `openssl req -verify` accepts, for either key type', function () {
    for (const keyPair of [keys.leafA, keys.rsaLeaf]) {
      const text = execFileSync('openssl', ['req', '-noout', '-verify', '-text'], {
        input: createCsr({ keyPair, spiffeId: api }),
        encoding: 'utf8',
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      expect(text).to.include(`URI:${api}`).and.include('Subject: CN = causeway');
    }
  });

  it('refuses a CSR for another SPIFFE ID than the token is entitled to', function () {
    const csrPem = createCsr({ keyPair: keys.leafA, spiffeId: workloadId('east', 'payments') });
    expect(() => validateCsr(csrPem, api))
      .to.throw(PermissionDeniedError)
      .with.property('message')
      .that.matches(
        /requests "spiffe:\/\/mesh\.test\/zone\/east\/ns\/default\/svc\/payments" but the caller is entitled only to/,
      );
  });

  it('refuses a CSR with an extra DNS SAN', function () {
    const csrPem = createCsr({
      keyPair: keys.leafA,
      spiffeId: api,
      extraAltNames: [{ type: 2, value: 'api.example.com' }],
    });
    expect(() => validateCsr(csrPem, api)).to.throw(PermissionDeniedError, /other name/);
  });

  it('refuses a CSR with a second URI SAN', function () {
    const csrPem = createCsr({
      keyPair: keys.leafA,
      spiffeId: api,
      extraAltNames: [{ type: 6, value: workloadId('east', 'db') }],
    });
    expect(() => validateCsr(csrPem, api)).to.throw(PermissionDeniedError, /exactly one URI SAN/);
  });

  it('refuses a 1024-bit RSA key', function () {
    const csrPem = createCsr({ keyPair: keys.weak, spiffeId: api });
    expect(() => validateCsr(csrPem, api))
      .to.throw(InvalidArgumentError, /RSA-1024; at least RSA-2048/)
      .with.property('field', 'csr');
  });

  it('refuses an EC key on P-384, naming the curve', function () {
    const csrPem = createCsr({ keyPair: keys.p384, spiffeId: api });
    expect(() => validateCsr(csrPem, api))
      .to.throw(
        InvalidArgumentError,
        'CSR key is EC on secp384r1; only P-256 (prime256v1) or RSA 2048-8192 are accepted',
      )
      .with.property('field', 'csr');
  });

  it('refuses a CSR whose key is neither RSA nor EC', function () {
    const ed = generateKeyPairSync('ed25519');
    const csrPem = csrWithKey(keys.leafA, ed.publicKey.export({ type: 'spki', format: 'der' }));
    expect(() => validateCsr(csrPem, api)).to.throw(InvalidArgumentError, /CSR key is ed25519;/);
  });

  for (const type of ['ec', 'rsa'] as const) {
    it(`refuses a CSR whose ${type.toUpperCase()} signature does not verify`, function () {
      const keyPair = type === 'ec' ? keys.leafA : keys.rsaLeaf;
      const der = pemToDer(createCsr({ keyPair, spiffeId: api }));
      der[der.length - 10] = (der[der.length - 10] ?? 0) ^ 0xff; // inside the signature
      expect(() => validateCsr(derToCsrPem(der), api)).to.throw(
        InvalidArgumentError,
        /signature does not verify/,
      );
    });
  }

  it('refuses a CSR whose signature algorithm does not match its key', function () {
    const ecAsRsa = relabel(createCsr({ keyPair: keys.leafA, spiffeId: api }), RSA_ALGORITHM);
    expect(() => validateCsr(ecAsRsa, api)).to.throw(
      InvalidArgumentError,
      'CSR is signed with sha256WithRSAEncryption (1.2.840.113549.1.1.11), but its EC key requires ecdsa-with-SHA256',
    );
    const rsaAsEc = relabel(createCsr({ keyPair: keys.rsaLeaf, spiffeId: api }), EC_ALGORITHM);
    expect(() => validateCsr(rsaAsEc, api)).to.throw(
      InvalidArgumentError,
      /signed with ecdsa-with-SHA256 .* its RSA key requires sha256WithRSAEncryption/,
    );
  });

  it('refuses a CSR signed by another key than the one it carries', function () {
    // Same CSR body, signature made with the wrong private key.
    const mixed = { publicKey: keys.leafA.publicKey, privateKey: keys.leafB.privateKey };
    expect(() => validateCsr(createCsr({ keyPair: mixed, spiffeId: api }), api)).to.throw(
      InvalidArgumentError,
      /signature does not verify/,
    );
  });

  it('refuses garbage and truncated DER with InvalidArgumentError', function () {
    expect(() => validateCsr('not a csr', api)).to.throw(InvalidArgumentError, /cannot be parsed/);
    const der = pemToDer(createCsr({ keyPair: keys.leafA, spiffeId: api }));
    expect(() => validateCsr(derToCsrPem(der.subarray(0, der.length - 1)), api))
      .to.throw(InvalidArgumentError, /CSR cannot be parsed: truncated DER element/)
      .with.property('field', 'csr');
  });

  it('cannot sign a CSR with a key that is neither RSA nor EC', function () {
    const ed = generateKeyPairSync('ed25519');
    expect(() => createCsr({ keyPair: ed, spiffeId: api })).to.throw(
      InvalidArgumentError,
      /signing keys must be RSA or EC \(got ed25519\)/,
    );
  });
});

const RSA_ALGORITHM = '300d06092a864886f70d01010b0500';
const EC_ALGORITHM = '300a06082a8648ce3d040302';

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
}

function derToCsrPem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
}

/** The same CSR with another outer AlgorithmIdentifier (hex DER); the signature is kept. */
function relabel(csrPem: string, algorithmHex: string): string {
  const csr = asn1.fromDer(pemToDer(csrPem).toString('binary'));
  const parts = csr.value as forge.asn1.Asn1[];
  parts[1] = asn1.fromDer(Buffer.from(algorithmHex, 'hex').toString('binary'));
  return derToCsrPem(Buffer.from(asn1.toDer(csr).getBytes(), 'binary'));
}

/**
 * A CSR of `keyPair` whose SubjectPublicKeyInfo is swapped for `spkiDer` (signature left
 * as is: the key check comes first).
 */
function csrWithKey(keyPair: KeyPair, spkiDer: Buffer): string {
  const csr = asn1.fromDer(
    pemToDer(createCsr({ keyPair, spiffeId: workloadId('east', 'api') })).toString('binary'),
  );
  const info = (csr.value as forge.asn1.Asn1[])[0] as forge.asn1.Asn1;
  (info.value as forge.asn1.Asn1[])[2] = asn1.fromDer(spkiDer.toString('binary'));
  return derToCsrPem(Buffer.from(asn1.toDer(csr).getBytes(), 'binary'));
}

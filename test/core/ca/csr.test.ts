import { expect } from 'chai';
import { createCsr, generateKeyPair, validateCsr } from '../../../core/src/ca/index.ts';
import { InvalidArgumentError, PermissionDeniedError } from '../../../core/src/errors.ts';
import type { Keys } from './fixtures.ts';
import { testKeys, workloadId } from './fixtures.ts';

describe('ca/csr', function () {
  let keys: Keys;
  const api = workloadId('east', 'api');

  before(async function () {
    keys = await testKeys();
  });

  it('accepts a CSR for exactly the entitled SPIFFE ID', function () {
    const csr = validateCsr(createCsr({ keyPair: keys.leafA, spiffeId: api }), api);
    expect(csr.spiffeId).to.equal(api);
    expect(csr.publicKey.asymmetricKeyDetails?.modulusLength).to.equal(2048);
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

  it('refuses a CSR whose signature does not verify', function () {
    const csrPem = createCsr({ keyPair: keys.leafA, spiffeId: api });
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 10] = (der[der.length - 10] ?? 0) ^ 0xff; // inside the signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(() => validateCsr(tampered, api)).to.throw(
      InvalidArgumentError,
      /signature does not verify/,
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

  it('refuses garbage with InvalidArgumentError', function () {
    expect(() => validateCsr('not a csr', api)).to.throw(InvalidArgumentError, /cannot be parsed/);
  });

  it('cannot build a CSR for an EC key (certificates are RSA-only)', async function () {
    const ec = await generateKeyPair({ type: 'ec' });
    expect(() => createCsr({ keyPair: ec, spiffeId: api })).to.throw(InvalidArgumentError, /RSA/);
  });
});

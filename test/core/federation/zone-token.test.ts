import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { generateKeyPair } from '../../../core/src/ca/keys.ts';
import type { KeyPair } from '../../../core/src/ca/keys.ts';
import { InvalidArgumentError, PermissionDeniedError } from '../../../core/src/errors.ts';
import {
  MAX_ZONE_TOKEN_LENGTH,
  decodeZoneToken,
  newZoneTokenId,
  signZoneToken,
  validateZoneTokenPayload,
  verifyZoneToken,
} from '../../../core/src/federation/zone-token.ts';
import type { ZoneTokenPayload } from '../../../core/src/federation/zone-token.ts';

const NOW = new Date('2030-01-01T00:00:00Z');
const NOW_S = NOW.getTime() / 1000;

function payload(overrides: Partial<Record<keyof ZoneTokenPayload, unknown>> = {}) {
  return {
    v: 1,
    zone: 'east',
    kind: 'universal',
    td: 'mesh.test',
    rootPin: createHash('sha256').update('root').digest('hex'),
    iat: NOW_S - 60,
    exp: NOW_S + 3600,
    jti: newZoneTokenId(),
    ...overrides,
  } as ZoneTokenPayload;
}

/** Replace the payload part of a token, keeping its signature. */
function withPayload(token: string, value: unknown): string {
  const [prefix, , sig] = token.split('.');
  return `${prefix}.${Buffer.from(JSON.stringify(value)).toString('base64url')}.${sig}`;
}

describe('federation/zone-token', function () {
  let key: KeyPair;
  let other: KeyPair;
  before(async function () {
    [key, other] = await Promise.all([generateKeyPair(), generateKeyPair()]);
  });

  it('signs a cwzt.<payload>.<signature> token that verifies and decodes to its payload', function () {
    const p = payload();
    const token = signZoneToken(p, key.privateKey);
    expect(token).to.match(/^cwzt\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    // ES256: the signature is the raw 64-byte r‖s, not DER.
    expect(Buffer.from(token.split('.')[2]!, 'base64url')).to.have.length(64);
    expect(verifyZoneToken(token, key.publicKey, NOW)).to.deep.equal(p);
    expect(decodeZoneToken(token)).to.deep.equal(p);
  });

  it('decodes without a key, tolerating surrounding whitespace (a token read from a file)', function () {
    const p = payload();
    expect(decodeZoneToken(`  ${signZoneToken(p, key.privateKey)}\n`)).to.deep.equal(p);
  });

  it('refuses a token signed by another key: bad signature', function () {
    const token = signZoneToken(payload(), other.privateKey);
    expect(() => verifyZoneToken(token, key.publicKey, NOW))
      .to.throw(PermissionDeniedError)
      .with.property('message')
      .that.includes('bad signature');
  });

  it('refuses a tampered payload even when it is well-formed', function () {
    const p = payload({ zone: 'east' });
    const token = signZoneToken(p, key.privateKey);
    const forged = withPayload(token, { ...p, zone: 'west' });
    // Decoding (no key) still reads it; verifying refuses it.
    expect(decodeZoneToken(forged).zone).to.equal('west');
    expect(() => verifyZoneToken(forged, key.publicKey, NOW))
      .to.throw(PermissionDeniedError)
      .with.property('message')
      .that.includes('bad signature');
  });

  it('refuses a signature of the wrong length or a swapped prefix', function () {
    const token = signZoneToken(payload(), key.privateKey);
    const [, body, sig] = token.split('.');
    const short = `cwzt.${body}.${Buffer.from(sig!, 'base64url').subarray(0, 63).toString('base64url')}`;
    expect(() => verifyZoneToken(short, key.publicKey, NOW)).to.throw(/bad signature/);
    expect(() => verifyZoneToken(`cwxx.${body}.${sig}`, key.publicKey, NOW)).to.throw(
      PermissionDeniedError,
      /not a zone token/,
    );
  });

  it('refuses an expired token, saying when it expired', function () {
    const token = signZoneToken(payload({ exp: NOW_S }), key.privateKey);
    expect(() => verifyZoneToken(token, key.publicKey, NOW))
      .to.throw(PermissionDeniedError)
      .with.property('message')
      .that.includes('expired at 2030-01-01T00:00:00.000Z');
    expect(() =>
      verifyZoneToken(token, key.publicKey, new Date(NOW.getTime() - 1000)),
    ).not.to.throw();
  });

  it('refuses to sign with a key that is not EC P-256', async function () {
    const rsa = await generateKeyPair({ type: 'rsa', bits: 2048 });
    expect(() => signZoneToken(payload(), rsa.privateKey))
      .to.throw(InvalidArgumentError)
      .with.property('field', 'privateKey');
  });

  const badFields: [string, Partial<Record<keyof ZoneTokenPayload | 'extra', unknown>>][] = [
    ['v', { v: 2 }],
    ['zone', { zone: 'East' }],
    ['zone', { zone: 'a'.repeat(64) }],
    ['kind', { kind: 'vm' }],
    ['td', { td: 'Mesh.Test' }],
    ['rootPin', { rootPin: 'ABCDEF' }],
    ['rootPin', { rootPin: 'a'.repeat(63) }],
    ['iat', { iat: 1.5 }],
    ['iat', { iat: -1 }],
    ['exp', { exp: '2030' }],
    ['exp', { iat: NOW_S, exp: NOW_S }],
    ['jti', { jti: 'short' }],
    ['jti', { jti: 'has spaces in it, sixteen+' }],
    ['extra', { extra: true }],
  ];
  for (const [field, change] of badFields) {
    it(`refuses a payload with a bad ${field} (${JSON.stringify(change)}), naming it`, function () {
      const bad = payload(change);
      expect(() => validateZoneTokenPayload(bad, 'token'))
        .to.throw(InvalidArgumentError)
        .with.property('field', `token.${field}`);
      // Signing checks too, and a token carrying it (signed by us) neither decodes nor verifies.
      expect(() => signZoneToken(bad, key.privateKey)).to.throw(InvalidArgumentError);
      const carried = withPayload(signZoneToken(payload(), key.privateKey), bad);
      expect(() => decodeZoneToken(carried))
        .to.throw(InvalidArgumentError)
        .with.property('field', `token.${field}`);
      expect(() => verifyZoneToken(carried, key.publicKey, NOW)).to.throw(PermissionDeniedError);
    });
  }

  it('refuses a missing field, naming it', function () {
    const { jti: _jti, ...rest } = payload();
    expect(() => validateZoneTokenPayload(rest, 'token'))
      .to.throw(InvalidArgumentError)
      .with.property('field', 'token.jti');
  });

  const malformed: [string, unknown][] = [
    ['not a string', 42],
    ['two parts', 'cwzt.abc'],
    ['four parts', 'cwzt.a.b.c'],
    ['non-base64url characters', 'cwzt.a+b.c/d'],
    ['a payload that is not JSON', `cwzt.${Buffer.from('{nope').toString('base64url')}.AAAA`],
    ['a payload that is an array', `cwzt.${Buffer.from('[1]').toString('base64url')}.AAAA`],
    ['an oversized token', `cwzt.${'a'.repeat(MAX_ZONE_TOKEN_LENGTH)}.AAAA`],
  ];
  for (const [what, token] of malformed) {
    it(`refuses ${what} with a clear error naming the token`, function () {
      expect(() => decodeZoneToken(token, 'zoneToken'))
        .to.throw(InvalidArgumentError)
        .with.property('field')
        .that.matches(/^zoneToken/);
      expect(() => verifyZoneToken(token, key.publicKey, NOW)).to.throw(
        PermissionDeniedError,
        /^zone token refused/,
      );
    });
  }

  it('gives equal payloads equal bodies, whatever the order of their fields', function () {
    const p = payload();
    const reordered = Object.fromEntries(Object.entries(p).reverse()) as ZoneTokenPayload;
    const a = signZoneToken(p, key.privateKey).split('.')[1];
    const b = signZoneToken(reordered, key.privateKey).split('.')[1];
    expect(a).to.equal(b);
  });
});

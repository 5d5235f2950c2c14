import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import {
  ConfigError,
  CorruptDataError,
  InvalidArgumentError,
  KeySealer,
  parseSealingKey,
} from '../../../core/index.ts';

describe('CA key sealing', function () {
  const secret = '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n';

  it('round-trips and never shows the plaintext or the key', function () {
    const key = randomBytes(32);
    const sealer = new KeySealer(key);
    const sealed = sealer.seal(secret, 'ca/root/1');
    expect(sealed).to.match(/^cw-sealed:v1:[0-9a-f]{16}:/);
    expect(sealed).not.to.include('PRIVATE KEY');
    expect(sealed).not.to.include(key.toString('base64url'));
    expect(sealer.unseal(sealed, 'ca/root/1')).to.equal(secret);
    expect(JSON.stringify({ sealer })).not.to.include(key.toString('hex'));
    // Same plaintext, fresh IV: two seals differ.
    expect(sealer.seal(secret, 'ca/root/1')).not.to.equal(sealed);
  });

  it('binds the record name: a sealed key cannot move to another record', function () {
    const sealer = KeySealer.generate();
    const sealed = sealer.seal(secret, 'ca/root/old');
    expect(() => sealer.unseal(sealed, 'ca/root/new')).to.throw(CorruptDataError, /authentication/);
  });

  it('names both key ids when the wrong key is used', function () {
    const a = KeySealer.generate();
    const b = KeySealer.generate();
    const sealed = a.seal(secret, 'r');
    expect(() => b.unseal(sealed, 'r'))
      .to.throw(ConfigError)
      .with.property('message')
      .that.includes(a.keyId)
      .and.includes(b.keyId);
  });

  it('detects tampering and garbage', function () {
    const sealer = KeySealer.generate();
    const parts = sealer.seal(secret, 'r').split(':');
    const ct = Buffer.from(parts[5] as string, 'base64url');
    ct[0] = (ct[0] as number) ^ 1;
    parts[5] = ct.toString('base64url');
    expect(() => sealer.unseal(parts.join(':'), 'r')).to.throw(CorruptDataError);
    expect(() => sealer.unseal('plain text', 'r')).to.throw(CorruptDataError, /not a sealed key/);
  });

  it('parses operator keys as base64 or hex, and explains bad ones', function () {
    const key = randomBytes(32);
    expect(parseSealingKey(key.toString('base64') + '\n', 'file').keyId).to.equal(
      new KeySealer(key).keyId,
    );
    expect(parseSealingKey(key.toString('hex'), 'env').keyId).to.equal(new KeySealer(key).keyId);
    expect(() => parseSealingKey('hunter2', 'CAUSEWAY_CA_ENCRYPTION_KEY'))
      .to.throw(ConfigError)
      .with.property('message')
      .that.includes('openssl rand -base64 32')
      .and.includes('CAUSEWAY_CA_ENCRYPTION_KEY');
    expect(() => new KeySealer(Buffer.alloc(16))).to.throw(InvalidArgumentError, /32 bytes/);
  });
});

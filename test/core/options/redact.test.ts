import { expect } from 'chai';
import {
  REDACTED,
  isSecretKey,
  redact,
  redactUrlSecrets,
} from '../../../core/src/options/redact.ts';

describe('options/redact', function () {
  it('recognises secret names but not references to secrets', function () {
    for (const name of [
      'token',
      'zoneToken',
      'password',
      'redisPassword',
      'secret',
      'clientSecret',
      'apiKey',
      'api_key',
      'privateKey',
      'key',
      'tlsKey',
      'ca_key',
      'keyPem',
      'authorization',
      'credentials',
    ]) {
      expect(isSecretKey(name), name).to.equal(true);
    }
    for (const name of [
      'tokenFile',
      'keyFile',
      'tlsKeyPath',
      'secretsDir',
      'tokenTtlMs',
      'monkey',
      'keyPrefix',
      'httpAddr',
      'name',
    ]) {
      expect(isSecretKey(name), name).to.equal(false);
    }
  });

  it('returns a copy with secrets replaced and everything else intact', function () {
    const options = {
      httpAddr: '127.0.0.1:8500',
      zoneToken: 'eyJhbGciOi',
      tls: { certFile: '/etc/cw/tls.crt', keyFile: '/etc/cw/tls.key', key: '-----BEGIN' },
      upstreams: [{ name: 'db', password: 'hunter2' }],
      drainTimeoutMs: 5000,
      enabled: true,
    };
    const out = redact(options);
    expect(out).to.deep.equal({
      httpAddr: '127.0.0.1:8500',
      zoneToken: REDACTED,
      tls: { certFile: '/etc/cw/tls.crt', keyFile: '/etc/cw/tls.key', key: REDACTED },
      upstreams: [{ name: 'db', password: REDACTED }],
      drainTimeoutMs: 5000,
      enabled: true,
    });
    expect(options.zoneToken, 'input untouched').to.equal('eyJhbGciOi');
    expect(options.upstreams[0]!.password).to.equal('hunter2');
  });

  it('keeps unset secrets visible, since "missing" leaks nothing', function () {
    expect(redact({ token: undefined, password: null, secret: '' })).to.deep.equal({
      token: undefined,
      password: null,
      secret: '',
    });
  });

  it('hides a secret-named field whatever its type', function () {
    expect(redact({ tokens: ['a', 'b'], secret: { nested: 'x' }, apiKey: 42 })).to.deep.equal({
      tokens: REDACTED,
      secret: REDACTED,
      apiKey: REDACTED,
    });
  });

  it('removes passwords from URLs in any string, keeping user and host', function () {
    const out = redact({
      store: 'redis://causeway:s3cret@redis.internal:6379/0',
      sentinel: 'redis-sentinel://:pw@s1:26379,s2:26379/mymaster',
      plain: 'rediss://redis.internal:6380',
      hook: 'https://hooks.example/x?token=abc&zone=east',
      list: ['redis://u:p@h:1'],
    });
    expect(out).to.deep.equal({
      store: `redis://causeway:${REDACTED}@redis.internal:6379/0`,
      sentinel: `redis-sentinel://:${REDACTED}@s1:26379,s2:26379/mymaster`,
      plain: 'rediss://redis.internal:6380',
      hook: `https://hooks.example/x?token=${REDACTED}&zone=east`,
      list: [`redis://u:${REDACTED}@h:1`],
    });
  });

  it('does not mistake a port followed by "@" in a path for a password', function () {
    expect(redactUrlSecrets('http://host:8080/users/@me')).to.equal('http://host:8080/users/@me');
  });

  it('takes extra secret names and patterns, without switching off the defaults', function () {
    const out = redact({ csr: 'PEM', Signature: 'x', sigAlg: 'y', token: 't' }, ['CSR', /^sig/i]);
    expect(out).to.deep.equal({
      csr: REDACTED,
      Signature: REDACTED,
      sigAlg: REDACTED,
      token: REDACTED,
    });
  });

  it('survives cycles and keeps shared references', function () {
    const shared = { a: 1 };
    const cyclic: Record<string, unknown> = { left: shared, right: shared };
    cyclic.self = cyclic;
    const out = redact(cyclic);
    expect(out.left).to.deep.equal({ a: 1 });
    expect(out.right).to.deep.equal({ a: 1 });
    expect(out.self).to.equal('[circular]');
  });

  it('passes non-plain objects through untouched', function () {
    const buf = Buffer.from('x');
    const out = redact({ data: buf, when: new Date(0) });
    expect(out.data).to.equal(buf);
    expect(out.when).to.be.instanceOf(Date);
  });
});

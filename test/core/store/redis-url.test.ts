import { expect } from 'chai';
import type { ConfigError } from '../../../core/src/errors.ts';
import { redactUrlSecrets } from '../../../core/src/options/redact.ts';
import { parseRedisUrl } from '../../../core/src/store/redis/redis-url.ts';
import type { RedisConnectionSpec } from '../../../core/src/store/redis/redis-url.ts';
import { configError } from '../../helpers/config-error.ts';

/** The error `url` is refused with; it always names the `url` field. */
function rejected(url: string): ConfigError {
  return configError(() => parseRedisUrl(url), 'url');
}

function standalone(url: string): Extract<RedisConnectionSpec, { mode: 'standalone' }> {
  const spec = parseRedisUrl(url);
  if (spec.mode !== 'standalone') expect.fail(`expected standalone, got ${spec.mode}`);
  return spec;
}

describe('parseRedisUrl', function () {
  describe('redis:// and rediss://', function () {
    it('defaults the port to 6379 and the database to none', function () {
      const spec = standalone('redis://localhost');
      expect(spec.options).to.deep.equal({ host: 'localhost', port: 6379 });
      expect(spec.address).to.equal('localhost:6379');
    });

    it('reads user, password, port and database', function () {
      const spec = standalone('redis://app:s3cret@10.0.0.5:6380/2');
      expect(spec.options).to.deep.include({
        host: '10.0.0.5',
        port: 6380,
        username: 'app',
        password: 's3cret',
        db: 2,
      });
    });

    it('takes a userinfo without a colon as a password, and ":pass" likewise', function () {
      expect(standalone('redis://pw@h').options).to.deep.include({ password: 'pw' });
      const spec = standalone('redis://:pw@h');
      expect(spec.options.password).to.equal('pw');
      expect(spec.options.username).to.equal(undefined);
    });

    it('percent-decodes the password and allows a raw "@" or "/" in it', function () {
      expect(standalone('redis://:p%3Fw%23@h').options.password).to.equal('p?w#');
      expect(standalone('redis://:a@b/c@h:1/3').options).to.deep.include({
        password: 'a@b/c',
        host: 'h',
        port: 1,
        db: 3,
      });
    });

    it('accepts a bracketed IPv6 host', function () {
      const spec = standalone('redis://[::1]:7000');
      expect(spec.options).to.deep.include({ host: '::1', port: 7000 });
      expect(spec.address).to.equal('[::1]:7000');
    });

    it('turns on TLS with SNI for rediss:// host names, without SNI for IPs', function () {
      expect(standalone('rediss://cache.example.com').options.tls).to.deep.equal({
        servername: 'cache.example.com',
      });
      expect(standalone('rediss://10.1.2.3:6380').options.tls).to.deep.equal({});
      expect(standalone('redis://h').options.tls).to.equal(undefined);
    });

    it('is case-insensitive in the scheme and ignores surrounding spaces', function () {
      expect(standalone('  REDIS://h:1  ').options).to.deep.include({ host: 'h', port: 1 });
    });
  });

  describe('redis-sentinel://', function () {
    it('reads the sentinels, the master name, the password and the database', function () {
      const spec = parseRedisUrl('redis-sentinel://pw@s1:26380,s2/mymaster?db=3');
      expect(spec.mode).to.equal('sentinel');
      expect(spec.options).to.deep.include({
        sentinels: [
          { host: 's1', port: 26380 },
          { host: 's2', port: 26379 },
        ],
        name: 'mymaster',
        password: 'pw',
        db: 3,
      });
      expect(spec.address).to.equal('master "mymaster" via sentinels s1:26380,s2:26379');
    });

    it('requires a master name', function () {
      expect(rejected('redis-sentinel://s1:26379').message).to.match(/name the master/);
      expect(rejected('redis-sentinel://s1:26379/').message).to.match(/name the master/);
    });
  });

  describe('redis-cluster://', function () {
    it('reads every seed node and puts the password in the per-node options', function () {
      const spec = parseRedisUrl('redis-cluster://:pw@n1:7000,n2:7001,n3');
      if (spec.mode !== 'cluster') expect.fail('expected cluster');
      expect(spec.nodes).to.deep.equal([
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
        { host: 'n3', port: 6379 },
      ]);
      expect(spec.options.redisOptions).to.deep.equal({ password: 'pw' });
      expect(spec.address).to.equal('n1:7000,n2:7001,n3:6379');
    });

    it('refuses a database, which Redis Cluster does not have', function () {
      expect(rejected('redis-cluster://n1:7000/1').message).to.match(/only has database 0/);
    });
  });

  describe('errors', function () {
    const cases: [string, string, RegExp][] = [
      ['an empty URL', '', /empty/],
      ['another scheme', 'http://h:6379', /use redis:\/\//],
      ['no scheme', 'localhost:6379', /use redis:\/\//],
      ['a missing host', 'redis://:pw@', /host is missing/],
      ['an empty host in a list', 'redis-cluster://a:1,,b:2', /host is missing/],
      ['a port out of range', 'redis://h:65536', /port "65536"/],
      ['port zero', 'redis://h:0', /port "0"/],
      ['a non-numeric port', 'redis://h:abc', /port "abc"/],
      ['an invalid host name', 'redis://bad_host!:1', /not a valid host/],
      ['an unbracketed IPv6 address', 'redis://::1:6379', /need brackets/],
      ['a broken IPv6 bracket', 'redis://[::1:6379', /bracketed IPv6/],
      ['a non-numeric database', 'redis://h/zero', /database "zero"/],
      ['several hosts for redis://', 'redis://a,b', /takes one host/],
      ['an unknown query parameter', 'redis://h?timeout=5', /unknown query parameter "timeout"/],
      ['bad percent-encoding', 'redis://:%zz@h', /malformed percent-encoding/],
    ];
    for (const [what, url, message] of cases) {
      it(`rejects ${what} with ConfigError`, function () {
        expect(rejected(url).message).to.match(message);
      });
    }

    it('never shows the password in an error', function () {
      const err = rejected('redis://admin:hunter2@h:99999');
      expect(err.message).to.not.include('hunter2');
      expect(err.message).to.include('admin:[redacted]@h:99999');
    });
  });
});

describe('redacting Redis URLs', function () {
  it('masks the password and keeps the rest', function () {
    expect(redactUrlSecrets('redis://u:p@h:1/0')).to.equal('redis://u:[redacted]@h:1/0');
    expect(redactUrlSecrets('redis-sentinel://p@s1,s2/m?db=1')).to.equal(
      'redis-sentinel://[redacted]@s1,s2/m?db=1',
    );
    expect(redactUrlSecrets('rediss://u:p@ss@h:1')).to.equal('rediss://u:[redacted]@h:1');
  });

  it('leaves a URL without credentials unchanged', function () {
    expect(redactUrlSecrets('redis://h:1')).to.equal('redis://h:1');
  });

  it('keeps a plain user name on other schemes', function () {
    expect(redactUrlSecrets('https://alice@example.test/x')).to.equal(
      'https://alice@example.test/x',
    );
  });
});

import { expect } from 'chai';
import { parseGlobalFlags } from '../../global-control/src/flags.ts';
import { configError } from '../helpers/config-error.ts';

describe('global-control/flags', function () {
  it('reads every flag', function () {
    expect(
      parseGlobalFlags(
        [
          '--http-addr',
          '127.0.0.1:7600',
          '--sync-addr',
          '127.0.0.1:7601',
          '--dev',
          '--data-dir',
          '/var/lib/cw',
          '--store',
          'redis://r:6379',
          '--trust-domain',
          'mesh.example',
          '--admin-token-file',
          '/etc/cw/admin',
          '--ca-key-type',
          'rsa',
          '--ca-encryption-key-file',
          '/etc/cw/ca.key',
          '--zone-token-ttl',
          '48h',
          '--server-cert-ttl',
          '1h',
          '--intermediate-ttl',
          '720h',
          '--kv-global-prefix',
          'global/',
        ],
        {},
      ),
    ).to.deep.equal({
      httpAddr: '127.0.0.1:7600',
      syncAddr: '127.0.0.1:7601',
      dev: true,
      dataDir: '/var/lib/cw',
      store: 'redis://r:6379',
      trustDomain: 'mesh.example',
      adminTokenFile: '/etc/cw/admin',
      caKeyType: 'rsa',
      caEncryptionKeyFile: '/etc/cw/ca.key',
      zoneTokenTtl: '48h',
      serverCertTtl: '1h',
      intermediateTtl: '720h',
      kvGlobalPrefixes: ['global/'],
    });
  });

  it('reads CAUSEWAY_* variables, and flags win over them', function () {
    const env = {
      CAUSEWAY_HTTP_ADDR: '127.0.0.1:1000',
      CAUSEWAY_SYNC_ADDR: '127.0.0.1:1001',
      CAUSEWAY_ADMIN_TOKEN: 'from-the-environment',
      CAUSEWAY_CA_ENCRYPTION_KEY: 'k',
      CAUSEWAY_ZONE_TOKEN_TTL: '2h',
      CAUSEWAY_DEV: 'true',
    };
    const options = parseGlobalFlags(['--http-addr', '127.0.0.1:2000'], env);
    expect(options).to.include({
      httpAddr: '127.0.0.1:2000',
      syncAddr: '127.0.0.1:1001',
      adminToken: 'from-the-environment',
      caEncryptionKey: 'k',
      zoneTokenTtl: 2 * 3_600_000,
      dev: true,
    });
  });

  it('takes --kv-global-prefix repeatedly, or CAUSEWAY_KV_GLOBAL_PREFIXES as a list', function () {
    expect(
      parseGlobalFlags(
        ['--kv-global-prefix', 'config/shared/', '--kv-global-prefix', 'global/'],
        {},
      ).kvGlobalPrefixes,
    ).to.deep.equal(['config/shared/', 'global/']);
    expect(
      parseGlobalFlags([], { CAUSEWAY_KV_GLOBAL_PREFIXES: 'a/, b/' }).kvGlobalPrefixes,
    ).to.deep.equal(['a/', 'b/']);
    // Flags replace the variable's list rather than adding to it.
    expect(
      parseGlobalFlags(['--kv-global-prefix', 'c/'], { CAUSEWAY_KV_GLOBAL_PREFIXES: 'a/' })
        .kvGlobalPrefixes,
    ).to.deep.equal(['c/']);
    expect(parseGlobalFlags([], {})).to.not.have.property('kvGlobalPrefixes');
  });

  it('refuses bad global KV prefixes, naming the flag or variable', function () {
    const flag = configError(
      () => parseGlobalFlags(['--kv-global-prefix', 'global/', '--kv-global-prefix', 'config'], {}),
      '--kv-global-prefix',
    );
    expect(flag.message).to.equal(
      '--kv-global-prefix[1] "config" must end with "/": a global KV prefix is a folder',
    );
    expect(
      configError(
        () => parseGlobalFlags(['--kv-global-prefix', 'a/', '--kv-global-prefix', 'a/b/'], {}),
        '--kv-global-prefix',
      ).message,
    ).to.equal('--kv-global-prefix[1] "a/b/" overlaps "a/"; give each folder once');
    expect(
      configError(
        () => parseGlobalFlags([], { CAUSEWAY_KV_GLOBAL_PREFIXES: 'a//' }),
        'CAUSEWAY_KV_GLOBAL_PREFIXES',
      ).message,
    ).to.match(/^CAUSEWAY_KV_GLOBAL_PREFIXES\[0\]/);
    configError(() => parseGlobalFlags(['--kv-global-prefix'], {}));
  });

  it('refuses an unknown flag and a bad variable, naming them', function () {
    expect(configError(() => parseGlobalFlags(['--name', 'x'], {})).message).to.include(
      "causeway run global: unknown option '--name'",
    );
    expect(
      configError(() => parseGlobalFlags([], { CAUSEWAY_ZONE_TOKEN_TTL: 'soon' })).message,
    ).to.include('CAUSEWAY_ZONE_TOKEN_TTL');
  });
});

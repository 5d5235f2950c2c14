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

  it('refuses an unknown flag and a bad variable, naming them', function () {
    expect(configError(() => parseGlobalFlags(['--name', 'x'], {})).message).to.include(
      "causeway run global: unknown option '--name'",
    );
    expect(
      configError(() => parseGlobalFlags([], { CAUSEWAY_ZONE_TOKEN_TTL: 'soon' })).message,
    ).to.include('CAUSEWAY_ZONE_TOKEN_TTL');
  });
});

import { expect } from 'chai';
import { resolveGlobalOptions } from '../../global-control/src/options.ts';
import { configError } from '../helpers/config-error.ts';

describe('global-control/options', function () {
  it('fills in the defaults', function () {
    expect(resolveGlobalOptions({})).to.deep.equal({
      httpAddr: { host: '127.0.0.1', port: 7600 },
      syncAddr: { host: '127.0.0.1', port: 7601 },
      store: undefined,
      dataDir: undefined,
      dev: false,
      trustDomain: 'causeway.mesh',
      adminToken: undefined,
      adminTokenFile: undefined,
      caKeyType: 'ec',
      caEncryptionKey: undefined,
      caEncryptionKeyFile: undefined,
      zoneTokenTtlMs: 24 * 3_600_000,
      serverCertTtlMs: 24 * 3_600_000,
      intermediateTtlMs: 8760 * 3_600_000,
      maxBodyBytes: 64 * 1024,
      kvGlobalPrefixes: ['global/'],
    });
  });

  it('takes the global KV prefixes as given (kvGlobalPrefixes)', function () {
    expect(
      resolveGlobalOptions({ kvGlobalPrefixes: ['config/shared/', 'global/'] }).kvGlobalPrefixes,
    ).to.deep.equal(['config/shared/', 'global/']);
    // An empty list is a mesh without global KV.
    expect(resolveGlobalOptions({ kvGlobalPrefixes: [] }).kvGlobalPrefixes).to.deep.equal([]);
  });

  it('refuses global KV prefixes that are not folders, overlap, or are not a list', function () {
    expect(
      configError(() => resolveGlobalOptions({ kvGlobalPrefixes: ['global'] }), 'kvGlobalPrefixes')
        .message,
    ).to.equal('kvGlobalPrefixes[0] "global" must end with "/": a global KV prefix is a folder');
    expect(
      configError(
        () => resolveGlobalOptions({ kvGlobalPrefixes: ['config/', 'config/shared/'] }),
        'kvGlobalPrefixes',
      ).message,
    ).to.match(/overlaps "config\/"/);
    configError(
      () => resolveGlobalOptions({ kvGlobalPrefixes: 'global/' as unknown as string[] }),
      'kvGlobalPrefixes',
    );
    configError(() => resolveGlobalOptions({ kvGlobalPrefixes: ['/global/'] }), 'kvGlobalPrefixes');
  });

  it('takes durations as strings or milliseconds and addresses with port 0', function () {
    const o = resolveGlobalOptions({
      httpAddr: '0.0.0.0:0',
      syncAddr: '[::1]:9000',
      zoneTokenTtl: '90m',
      serverCertTtl: 60_000,
      caKeyType: 'rsa',
      trustDomain: 'mesh.example',
    });
    expect(o.httpAddr).to.deep.equal({ host: '0.0.0.0', port: 0 });
    expect(o.syncAddr).to.deep.equal({ host: '::1', port: 9000 });
    expect(o.zoneTokenTtlMs).to.equal(90 * 60_000);
    expect(o.serverCertTtlMs).to.equal(60_000);
    expect(o.caKeyType).to.equal('rsa');
    expect(o.trustDomain).to.equal('mesh.example');
  });

  const refused: [string, Parameters<typeof resolveGlobalOptions>[0], string][] = [
    ['a bad trust domain', { trustDomain: 'Mesh' }, 'trustDomain'],
    ['a zone token TTL under a minute', { zoneTokenTtl: '30s' }, 'zoneTokenTtl'],
    ['a zone token TTL over a year', { zoneTokenTtl: '9000h' }, 'zoneTokenTtl'],
    ['an intermediate TTL under 3h', { intermediateTtl: '2h' }, 'intermediateTtl'],
    ['an intermediate TTL over 5 years', { intermediateTtl: '50000h' }, 'intermediateTtl'],
    ['a server certificate TTL under 10s', { serverCertTtl: '5s' }, 'serverCertTtl'],
    ['an unknown CA key type', { caKeyType: 'dsa' as 'ec' }, 'caKeyType'],
    ['a bad address', { httpAddr: 'nope' }, 'httpAddr'],
    ['a tiny body limit', { maxBodyBytes: 10 }, 'maxBodyBytes'],
    [
      'an admin token given twice',
      { adminToken: 'x'.repeat(20), adminTokenFile: '/tmp/t' },
      'adminTokenFile',
    ],
  ];
  for (const [what, options, field] of refused) {
    it(`refuses ${what}, naming ${field}`, function () {
      configError(() => resolveGlobalOptions(options), field);
    });
  }
});

/** The zone's CA flags and `CAUSEWAY_CA_*` variables. */
import { expect } from 'chai';
import { ConfigError } from '../../core/index.ts';
import { parseZoneFlags } from '../../zone-control/src/flags.ts';
import { resolveZoneOptions } from '../../zone-control/index.ts';

describe('zone CA options', function () {
  it('defaults to EC keys, 24 h leaves, 500 signings/s and the causeway.mesh trust domain', function () {
    const o = resolveZoneOptions({ name: 'east' });
    expect(o).to.include({
      trustDomain: 'causeway.mesh',
      caKeyType: 'ec',
      leafTtlMs: 86_400_000,
      caSignRate: 500,
      caParticipantTtlMs: 900_000,
    });
  });

  it('reads flags over the environment', function () {
    const env = {
      CAUSEWAY_LEAF_TTL: '1h',
      CAUSEWAY_CA_KEY_TYPE: 'rsa',
      CAUSEWAY_CA_ENCRYPTION_KEY: 'k',
      CAUSEWAY_TRUST_DOMAIN: 'env.example',
    };
    const flags = parseZoneFlags(
      ['--leaf-ttl', '2h', '--trust-domain', 'mesh.example', '--ca-sign-rate', '50'],
      env,
    );
    const o = resolveZoneOptions({ name: 'east', ...flags });
    expect(o).to.include({
      leafTtlMs: 7_200_000,
      trustDomain: 'mesh.example',
      caKeyType: 'rsa',
      caSignRate: 50,
      caEncryptionKey: 'k',
    });
  });

  it('refuses values that cannot work, naming the option', function () {
    const bad = (options: Record<string, unknown>, field: string) =>
      expect(() => resolveZoneOptions({ name: 'east', ...options }))
        .to.throw(ConfigError)
        .with.property('field', field);
    bad({ trustDomain: 'Not A Domain' }, 'trustDomain');
    bad({ leafTtl: '500ms' }, 'leafTtl');
    bad({ caCertFile: '/x.pem' }, 'caKeyFile');
    bad({ caKeyType: 'dsa' }, 'caKeyType');
    bad({ caSignRate: 0 }, 'caSignRate');
    expect(() => parseZoneFlags([], { CAUSEWAY_CA_KEY_TYPE: 'dsa' }))
      .to.throw(ConfigError)
      .with.property('field', 'CAUSEWAY_CA_KEY_TYPE');
  });
});

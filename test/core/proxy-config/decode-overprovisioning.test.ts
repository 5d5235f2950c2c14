/**
 * `Cluster.overprovisioningFactor` in the snapshot decoder (kept apart from decode.test.ts,
 * which another change owns; merge when convenient).
 */
import { expect } from 'chai';
import {
  DEFAULT_OVERPROVISIONING_FACTOR,
  InvalidArgumentError,
  decodeProxyConfig,
} from '../../../core/index.ts';

function withCluster(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    service: 'web',
    zone: 'east',
    trustDomain: 'causeway.mesh',
    inbound: { port: 15006 },
    outbound: [],
    clusters: [{ name: 'backend', service: 'backend', endpoints: [], ...extra }],
  };
}

describe('decodeProxyConfig: overprovisioningFactor', function () {
  it("defaults to Envoy's 1.4 and keeps a value from 1 to 10", function () {
    expect(DEFAULT_OVERPROVISIONING_FACTOR).to.equal(1.4);
    expect(decodeProxyConfig(withCluster({})).clusters[0]?.overprovisioningFactor).to.equal(1.4);
    for (const v of [1, 1.25, 10]) {
      expect(
        decodeProxyConfig(withCluster({ overprovisioningFactor: v })).clusters[0]
          ?.overprovisioningFactor,
      ).to.equal(v);
    }
  });

  it('refuses a factor outside 1–10 or not a number, naming the field', function () {
    for (const v of [0.99, 0, 10.5, '1.4', Number.NaN]) {
      let err: unknown;
      try {
        decodeProxyConfig(withCluster({ overprovisioningFactor: v }));
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).field).to.equal('clusters[0].overprovisioningFactor');
      expect((err as Error).message).to.contain('from 1 to 10');
    }
  });
});

import { expect } from 'chai';
import { TlsIdentity } from '../../proxy/src/identity/tls-identity.ts';
import { readinessOf } from '../../proxy/src/readiness.ts';
import { TestCa } from '../helpers/test-ca.ts';

describe('proxy readiness', function () {
  this.timeout(30_000);

  it('is ready with a valid leaf and a config, and says what is missing otherwise', async function () {
    const ca = await TestCa.create();
    const tls = new TlsIdentity({ trustDomain: 'causeway.mesh' });
    const facts = {
      tls,
      configApplied: false,
      noConfig: 'no config yet',
      zoneStream: { connected: false },
    };
    expect(readinessOf(facts).reasons).to.deep.equal([
      'no certificate yet (zone stream down)',
      'no config yet',
    ]);
    tls.update(await ca.identity({ service: 'web' }));
    expect(readinessOf({ ...facts, configApplied: true })).to.deep.equal({
      ready: true,
      reasons: [],
    });
  });

  it('is not ready once the leaf has expired (the zone could not renew it)', async function () {
    const ca = await TestCa.create();
    const tls = new TlsIdentity({ trustDomain: 'causeway.mesh' });
    tls.update(await ca.identity({ service: 'web' }));
    const notAfter = tls.notAfter() as Date;
    const facts = {
      tls,
      configApplied: true,
      noConfig: 'no config yet',
      zoneStream: { connected: false },
    };
    expect(readinessOf(facts, notAfter.getTime() - 1000).ready).to.equal(true);
    const expired = readinessOf(facts, notAfter.getTime() + 1000);
    expect(expired.ready).to.equal(false);
    expect(expired.reasons).to.deep.equal([
      `the certificate expired at ${notAfter.toISOString()} (zone stream down)`,
    ]);
  });
});

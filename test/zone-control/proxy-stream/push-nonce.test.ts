/** Push nonces from the pooled generator: 8 random bytes as hex, fresh across refills. */
import { expect } from 'chai';
import { pushNonce } from '../../../zone-control/src/proxy-stream/push-nonce.ts';

describe('push nonces', function () {
  it('are 16 hex characters and do not repeat across several pool refills', function () {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const nonce = pushNonce();
      expect(nonce).to.match(/^[0-9a-f]{16}$/);
      seen.add(nonce);
    }
    expect(seen.size).to.equal(5000);
  });
});

import { expect } from 'chai';
import { PeakEwmaBalancer } from '../../../../proxy/src/outbound/balancers/peak-ewma.ts';
import { endpoints, tally } from './fixtures.ts';

describe('PeakEwmaBalancer', function () {
  it('prefers the endpoint with the lower latency × load', function () {
    const set = endpoints([1, 1]);
    const now = performance.now();
    set[0]!.observeLatency(50, now);
    set[1]!.observeLatency(5, now);
    const lb = new PeakEwmaBalancer();
    for (let i = 0; i < 10; i++) expect(lb.pick(set, undefined, undefined)).to.equal(set[1]);
    // Enough requests in flight on the fast one make the slow one cheaper.
    set[1]!.active = 20;
    expect(lb.pick(set, undefined, undefined)).to.equal(set[0]);
  });

  it('jumps to a slower sample at once and decays towards faster ones', function () {
    const [e] = endpoints([1]);
    const t0 = performance.now();
    e!.observeLatency(10, t0);
    e!.observeLatency(100, t0 + 1);
    expect(e!.ewmaMs).to.equal(100);
    e!.observeLatency(10, t0 + 5000);
    expect(e!.ewmaMs).to.be.within(10, 100);
    // Without samples the estimate decays towards zero, so an idle endpoint is retried.
    expect(e!.latencyEstimate(t0 + 60_000)).to.be.lessThan(1);
  });

  it('tries endpoints without samples first and avoids the excluded one', function () {
    const set = endpoints([1, 1, 1]);
    const now = performance.now();
    set[0]!.observeLatency(20, now);
    set[1]!.observeLatency(20, now);
    const lb = new PeakEwmaBalancer();
    const counts = tally(Array.from({ length: 300 }, () => lb.pick(set, undefined, undefined)));
    // The unsampled one wins every comparison it is part of (2 of 3 pairs).
    expect(counts.get(set[2]?.key as string) ?? 0).to.be.greaterThan(150);
    for (let i = 0; i < 20; i++) expect(lb.pick(set, undefined, [set[2]!])).not.to.equal(set[2]);
  });

  it('shares traffic by weight between endpoints that cost the same', function () {
    const set = endpoints([3, 1]);
    const lb = new PeakEwmaBalancer();
    const n = 4000;
    const counts = tally(Array.from({ length: n }, () => lb.pick(set, undefined, undefined)));
    // Binomial(4000, 0.75): standard deviation ~27.
    expect(counts.get(set[0]!.key)).to.be.within(0.75 * n - 150, 0.75 * n + 150);
    const three = endpoints([6, 3, 1]);
    const shares = tally(Array.from({ length: n }, () => lb.pick(three, undefined, undefined)));
    expect(shares.get(three[0]!.key)).to.be.within(0.6 * n - 160, 0.6 * n + 160);
    expect(shares.get(three[2]!.key)).to.be.within(0.1 * n - 100, 0.1 * n + 100);
  });

  it('still prefers a cheaper endpoint over a heavier one', function () {
    const set = endpoints([1, 9]);
    const now = performance.now();
    set[0]!.observeLatency(5, now);
    set[1]!.observeLatency(50, now);
    const lb = new PeakEwmaBalancer();
    for (let i = 0; i < 20; i++) expect(lb.pick(set, undefined, undefined)).to.equal(set[0]);
    expect(lb.pick(set, undefined, [set[0]!])).to.equal(set[1]);
  });
});

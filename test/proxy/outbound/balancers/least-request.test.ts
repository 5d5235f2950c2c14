import { expect } from 'chai';
import { LeastRequestBalancer } from '../../../../proxy/src/outbound/balancers/least-request.ts';
import { endpoints, tally } from './fixtures.ts';

describe('LeastRequestBalancer', function () {
  it('prefers the idle endpoint when comparing all of them', function () {
    const set = endpoints([1, 1]);
    (set[0] as { active: number }).active = 3;
    const lb = new LeastRequestBalancer(2);
    for (let i = 0; i < 20; i++) expect(lb.pick(set, undefined, undefined)).to.equal(set[1]);
  });

  it('spreads ties evenly', function () {
    const set = endpoints([1, 1, 1]);
    const lb = new LeastRequestBalancer(3);
    const counts = tally(Array.from({ length: 30 }, () => lb.pick(set, undefined, undefined)));
    expect([...counts.values()]).to.deep.equal([10, 10, 10]);
  });

  it('with two random choices among many, never picks the busiest of its sample', function () {
    const set = endpoints(new Array<number>(10).fill(1));
    set.forEach((e, i) => (e.active = i));
    const lb = new LeastRequestBalancer(2);
    const counts = tally(Array.from({ length: 2000 }, () => lb.pick(set, undefined, undefined)));
    // P(pick the busiest) = P(both samples are it) = 1/100; the idlest gets ~19%.
    expect(counts.get(set[9]?.key as string) ?? 0).to.be.lessThan(60);
    expect(counts.get(set[0]?.key as string) ?? 0).to.be.greaterThan(250);
  });

  it('weighs load by endpoint weight', function () {
    const set = endpoints([4, 1]);
    set[0]!.active = 2; // (2+1)/4 = 0.75 < (0+1)/1
    const lb = new LeastRequestBalancer(2);
    expect(lb.pick(set, undefined, undefined)).to.equal(set[0]);
  });

  it('avoids the excluded endpoint', function () {
    const set = endpoints([1, 1]);
    set[1]!.active = 5;
    const lb = new LeastRequestBalancer(2);
    expect(lb.pick(set, undefined, set[0])).to.equal(set[1]);
  });
});

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

  it('with unequal weights shares sequential requests in proportion to weight', function () {
    const set = endpoints([4, 1, 2]);
    const lb = new LeastRequestBalancer(2);
    const counts = tally(Array.from({ length: 700 }, () => lb.pick(set, undefined, undefined)));
    // Earliest deadline first is deterministic: exactly 4:1:2.
    expect(set.map((e) => counts.get(e.key))).to.deep.equal([400, 100, 200]);
  });

  it('with unequal weights schedules a busy endpoint further out (weight ÷ (active + 1))', function () {
    const set = endpoints([4, 1]);
    set[0]!.active = 7; // effective weight 4/8 = 0.5 < 1
    const lb = new LeastRequestBalancer(2);
    const counts = tally(Array.from({ length: 300 }, () => lb.pick(set, undefined, undefined)));
    expect(counts.get(set[1]!.key)).to.equal(200);
    expect(counts.get(set[0]!.key)).to.equal(100);
  });

  it('with unequal weights avoids excluded endpoints, and an endpoint back in the set does not get a burst', function () {
    const set = endpoints([4, 1]);
    const lb = new LeastRequestBalancer(2);
    for (let i = 0; i < 20; i++) expect(lb.pick(set, undefined, [set[0]!])).to.equal(set[1]);
    // set[1] went far ahead in the schedule; set[0] is not owed the picks it missed.
    const without = [set[1]!, endpoints([2])[0]!];
    for (let i = 0; i < 50; i++) lb.pick(without, undefined, undefined);
    const counts = tally(Array.from({ length: 50 }, () => lb.pick(set, undefined, undefined)));
    expect(counts.get(set[1]!.key)).to.be.within(5, 15);
  });

  it('avoids the excluded endpoint', function () {
    const set = endpoints([1, 1]);
    set[1]!.active = 5;
    const lb = new LeastRequestBalancer(2);
    expect(lb.pick(set, undefined, [set[0]!])).to.equal(set[1]);
  });
});

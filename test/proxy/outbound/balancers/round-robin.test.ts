import { expect } from 'chai';
import { RoundRobinBalancer } from '../../../../proxy/src/outbound/balancers/round-robin.ts';
import { endpoints, tally } from './fixtures.ts';

describe('RoundRobinBalancer', function () {
  it('rotates through equal endpoints in order', function () {
    const set = endpoints([1, 1, 1]);
    const lb = new RoundRobinBalancer();
    const picks = Array.from({ length: 6 }, () => lb.pick(set, undefined, undefined).key);
    expect(picks).to.deep.equal([0, 1, 2, 0, 1, 2].map((i) => set[i]?.key));
  });

  it('honours weights exactly over a cycle and interleaves them smoothly', function () {
    const set = endpoints([5, 1, 1]);
    const lb = new RoundRobinBalancer();
    const picks = Array.from({ length: 7 }, () => lb.pick(set, undefined, undefined));
    const counts = tally(picks);
    expect(counts.get(set[0]?.key as string)).to.equal(5);
    expect(counts.get(set[1]?.key as string)).to.equal(1);
    expect(counts.get(set[2]?.key as string)).to.equal(1);
    // Smooth: never five of the heavy one in a row.
    expect(picks.map((p) => p.key).join(',')).not.to.contain(Array(5).fill(set[0]?.key).join(','));
  });

  it('avoids the excluded endpoint when another exists', function () {
    const set = endpoints([1, 1]);
    const lb = new RoundRobinBalancer();
    for (let i = 0; i < 10; i++) expect(lb.pick(set, undefined, [set[0]!])).to.equal(set[1]);
    const one = endpoints([1]);
    expect(lb.pick(one, undefined, [one[0]!])).to.equal(one[0]);
  });

  it('with weights, moves on past every excluded endpoint', function () {
    const set = endpoints([3, 1, 1]);
    const lb = new RoundRobinBalancer();
    for (let i = 0; i < 10; i++) {
      expect(lb.pick(set, undefined, [set[0]!, set[1]!])).to.equal(set[2]);
    }
  });
});

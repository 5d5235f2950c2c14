import { expect } from 'chai';
import {
  RingHashBalancer,
  hashString,
} from '../../../../proxy/src/outbound/balancers/ring-hash.ts';
import { EndpointState } from '../../../../proxy/src/outbound/endpoint.ts';
import { endpoints, tally } from './fixtures.ts';

const keys = Array.from({ length: 2000 }, (_, i) => `user-${i}`);

describe('RingHashBalancer', function () {
  it('maps a key to the same endpoint every time', function () {
    const set = endpoints([1, 1, 1]);
    const lb = new RingHashBalancer();
    for (const key of keys.slice(0, 50)) {
      const first = lb.pick(set, key, undefined);
      for (let i = 0; i < 3; i++) expect(lb.pick(set, key, undefined)).to.equal(first);
    }
  });

  it('moves only the keys of an added endpoint, and only those of a removed one', function () {
    const before = endpoints([1, 1, 1, 1]);
    const lb = new RingHashBalancer();
    const owner = new Map(keys.map((k) => [k, lb.pick(before, k, undefined).key]));
    const added = new EndpointState('10.0.0.99', 8443);
    const after = [...before, added];
    let moved = 0;
    for (const k of keys) {
      const now = lb.pick(after, k, undefined).key;
      if (now !== owner.get(k)) {
        expect(now).to.equal(added.key);
        moved++;
      }
    }
    // About a fifth of the keys move to the new endpoint.
    expect(moved).to.be.within(keys.length * 0.1, keys.length * 0.3);
    const removed = before.slice(1);
    for (const k of keys) {
      const was = owner.get(k);
      if (was !== before[0]?.key) expect(lb.pick(removed, k, undefined).key).to.equal(was);
    }
  });

  it('spreads keys roughly evenly and by weight', function () {
    const set = endpoints([1, 1, 2]);
    const lb = new RingHashBalancer();
    const counts = tally(keys.map((k) => lb.pick(set, k, undefined)));
    const share = (i: number) => (counts.get(set[i]?.key as string) ?? 0) / keys.length;
    expect(share(2)).to.be.within(0.38, 0.62);
    expect(share(0)).to.be.within(0.15, 0.35);
  });

  it('walks to the next endpoint for an excluded owner, and picks at random without a key', function () {
    const set = endpoints([1, 1]);
    const lb = new RingHashBalancer();
    const owner = lb.pick(set, 'k', undefined);
    expect(lb.pick(set, 'k', [owner])).not.to.equal(owner);
    const counts = tally(Array.from({ length: 200 }, () => lb.pick(set, undefined, undefined)));
    expect(counts.size).to.equal(2);
  });

  it('hashes strings to well-spread 32-bit values', function () {
    expect(hashString('a')).not.to.equal(hashString('b'));
    expect(hashString('abc')).to.equal(hashString('abc'));
    expect(hashString('x')).to.be.within(0, 2 ** 32 - 1);
  });

  it('honours large weights: no per-endpoint cap flattens them', function () {
    const many = Array.from({ length: 20_000 }, (_, i) => `k-${i}`);
    const set = endpoints([1, 100]);
    const lb = new RingHashBalancer();
    const counts = tally(many.map((k) => lb.pick(set, k, undefined)));
    // 1/101 of the ring (a cap of 2048 points per endpoint would give it 128/2176, ~6%).
    expect((counts.get(set[0]!.key) ?? 0) / many.length).to.be.within(0.003, 0.02);
  });

  it('scales every endpoint alike past the ring size limit', function () {
    const many = Array.from({ length: 20_000 }, (_, i) => `k-${i}`);
    const set = endpoints([600, 300, 100]); // 128,000 points wanted, 65,536 allowed
    const lb = new RingHashBalancer();
    const counts = tally(many.map((k) => lb.pick(set, k, undefined)));
    const share = (i: number) => (counts.get(set[i]!.key) ?? 0) / many.length;
    expect(share(0)).to.be.within(0.55, 0.65);
    expect(share(1)).to.be.within(0.25, 0.35);
    expect(share(2)).to.be.within(0.07, 0.13);
  });

  it('spreads requests without a key by weight', function () {
    const set = endpoints([1, 3]);
    const lb = new RingHashBalancer();
    const counts = tally(Array.from({ length: 4000 }, () => lb.pick(set, undefined, undefined)));
    expect((counts.get(set[1]!.key) ?? 0) / 4000).to.be.within(0.65, 0.85);
  });
});

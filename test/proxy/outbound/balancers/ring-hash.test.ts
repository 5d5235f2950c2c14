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
    expect(lb.pick(set, 'k', owner)).not.to.equal(owner);
    const counts = tally(Array.from({ length: 200 }, () => lb.pick(set, undefined, undefined)));
    expect(counts.size).to.equal(2);
  });

  it('hashes strings to well-spread 32-bit values', function () {
    expect(hashString('a')).not.to.equal(hashString('b'));
    expect(hashString('abc')).to.equal(hashString('abc'));
    expect(hashString('x')).to.be.within(0, 2 ** 32 - 1);
  });
});

import { expect } from 'chai';
import { InvalidArgumentError, TokenBucket } from '../../core/index.ts';

describe('TokenBucket', function () {
  it('allows a burst, then refills at the rate', function () {
    let now = 0;
    const bucket = new TokenBucket(2, 3, () => now);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).to.deep.equal([
      true,
      true,
      true,
      false,
    ]);
    expect(bucket.msUntilNext()).to.equal(500);
    now = 499;
    expect(bucket.tryTake()).to.equal(false);
    now = 500;
    expect(bucket.tryTake()).to.equal(true);
    now = 60_000;
    // Never more than the burst, however long it was idle.
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).to.deep.equal([
      true,
      true,
      true,
      false,
    ]);
  });

  it('refuses a rate or burst that cannot work', function () {
    expect(() => new TokenBucket(0)).to.throw(InvalidArgumentError, /ratePerSecond/);
    expect(() => new TokenBucket(Number.NaN)).to.throw(InvalidArgumentError, /ratePerSecond/);
    expect(() => new TokenBucket(5, 0.5)).to.throw(InvalidArgumentError, /burst/);
  });
});

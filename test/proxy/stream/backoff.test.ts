import { expect } from 'chai';
import { Backoff } from '../../../proxy/src/stream/backoff.ts';

describe('reconnect backoff', function () {
  it('doubles from the base up to the cap, with half of each delay jittered', function () {
    const low = new Backoff({ baseMs: 250, maxMs: 30_000, random: () => 0 });
    const high = new Backoff({ baseMs: 250, maxMs: 30_000, random: () => 1 });
    const lows = Array.from({ length: 10 }, () => low.next());
    const highs = Array.from({ length: 10 }, () => high.next());
    expect(highs).to.deep.equal([250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(lows).to.deep.equal(highs.map((h) => h / 2));
  });

  it('starts over after reset', function () {
    const b = new Backoff({ baseMs: 100, random: () => 1 });
    b.next();
    b.next();
    expect(b.attempts).to.equal(2);
    b.reset();
    expect(b.next()).to.equal(100);
  });
});

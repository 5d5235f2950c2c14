import { expect } from 'chai';
import { nextTraceparent } from '../../../proxy/src/outbound/traceparent.ts';

describe('nextTraceparent', function () {
  it('keeps the trace id and flags and replaces the span id', function () {
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';
    const next = nextTraceparent(incoming);
    expect(next).to.match(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-00$/);
    expect(next.slice(36, 52)).not.to.equal('00f067aa0ba902b7');
  });

  it('starts a trace for a missing or malformed header', function () {
    for (const bad of [
      undefined,
      'garbage',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    ]) {
      const next = nextTraceparent(bad);
      expect(next).to.match(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(next.slice(3, 35)).not.to.equal('4bf92f3577b34da6a3ce929d0e0e4736');
    }
  });

  it('makes distinct ids across many calls (the random pool refills)', function () {
    const seen = new Set(Array.from({ length: 2000 }, () => nextTraceparent(undefined)));
    expect(seen.size).to.equal(2000);
  });
});

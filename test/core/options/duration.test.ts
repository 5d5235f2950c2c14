import { expect } from 'chai';
import { formatDuration, parseDuration } from '../../../core/src/options/duration.ts';
import { ConfigError } from '../../../core/src/errors.ts';

describe('options/duration', function () {
  describe('parseDuration', function () {
    const valid: [string | number, number][] = [
      ['250ms', 250],
      ['1.5s', 1500],
      ['5m', 300_000],
      ['10m', 600_000],
      ['1h', 3_600_000],
      ['1m30s', 90_000],
      ['1h0m5s', 3_605_000],
      ['.5s', 500],
      [' 2s ', 2000],
      ['0', 0],
      [0, 0],
      [1234, 1234],
      [1.6, 2],
    ];
    for (const [input, ms] of valid) {
      it(`reads ${JSON.stringify(input)} as ${ms} ms`, function () {
        expect(parseDuration(input, 'drainTimeout')).to.equal(ms);
      });
    }

    const invalid: [unknown, RegExp][] = [
      ['250', /no unit; write e.g. "250ms"/],
      ['5x', /not a duration/],
      ['s', /not a duration/],
      ['1s 2s', /not a duration/],
      ['-1s', /not a duration/],
      ['', /must not be empty/],
      [-5, /non-negative/],
      [Number.NaN, /non-negative/],
      [Number.POSITIVE_INFINITY, /non-negative/],
      [true, /must be a duration/],
      [undefined, /must be a duration/],
    ];
    for (const [input, message] of invalid) {
      it(`refuses ${String(input)} with a ConfigError naming the field`, function () {
        let caught: unknown;
        try {
          parseDuration(input, 'CAUSEWAY_DRAIN_TIMEOUT');
        } catch (err) {
          caught = err;
        }
        expect(caught).to.be.instanceOf(ConfigError);
        const err = caught as ConfigError;
        expect(err.code).to.equal('CW_ERR_CONFIG');
        expect(err.field).to.equal('CAUSEWAY_DRAIN_TIMEOUT');
        expect(err.message).to.match(/^CAUSEWAY_DRAIN_TIMEOUT/);
        expect(err.message).to.match(message);
      });
    }
  });

  describe('formatDuration', function () {
    it('writes what parseDuration reads back', function () {
      for (const ms of [0, 1, 250, 1000, 1500, 90_000, 3_605_000, 86_400_000]) {
        expect(parseDuration(formatDuration(ms), 'x')).to.equal(ms);
      }
      expect(formatDuration(90_000)).to.equal('1m30s');
      expect(formatDuration(1500)).to.equal('1s500ms');
      expect(formatDuration(0)).to.equal('0s');
    });
  });
});

import { expect } from 'chai';
import {
  parseBoolean,
  parseEnum,
  parseInteger,
  parseList,
} from '../../../core/src/options/scalars.ts';
import { ConfigError } from '../../../core/src/errors.ts';

describe('options/scalars', function () {
  it('parses whole numbers within a range', function () {
    expect(parseInteger('42', 'cas')).to.equal(42);
    expect(parseInteger(7, 'cas')).to.equal(7);
    expect(parseInteger('-3', 'x', { min: -10 })).to.equal(-3);
    for (const bad of ['1.5', '1e3', '0x10', '', 'ten', -1, 2 ** 53]) {
      expect(() => parseInteger(bad, 'cas')).to.throw(ConfigError, /^cas must be a whole number/);
    }
    expect(() => parseInteger('11', 'n', { max: 10 })).to.throw(/from 0 to 10, got 11/);
  });

  it('parses booleans the way env files write them', function () {
    for (const yes of ['true', 'TRUE', '1', 'yes', 'on', true]) {
      expect(parseBoolean(yes, 'x')).to.equal(true);
    }
    for (const no of ['false', '0', 'No', 'off', false]) {
      expect(parseBoolean(no, 'x')).to.equal(false);
    }
    expect(() => parseBoolean('maybe', 'CAUSEWAY_PRETTY')).to.throw(
      ConfigError,
      'CAUSEWAY_PRETTY must be true or false, got "maybe"',
    );
  });

  it('splits comma-separated lists and drops empty items', function () {
    expect(parseList('a, b,,c ', 'x')).to.deep.equal(['a', 'b', 'c']);
    expect(parseList(['a'], 'x')).to.deep.equal(['a']);
    expect(() => parseList(3, 'x')).to.throw(ConfigError);
  });

  it('accepts one of a fixed set and lists the choices otherwise', function () {
    expect(parseEnum(' zone ', 'mode', ['zone', 'global'])).to.equal('zone');
    expect(() => parseEnum('edge', 'mode', ['zone', 'global'])).to.throw(
      'mode must be one of zone, global; got "edge"',
    );
  });
});

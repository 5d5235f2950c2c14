import { expect } from 'chai';
import { isPlainObject, mergeOptions } from '../../../core/src/options/merge.ts';

interface ZoneOptions {
  httpAddr: string;
  logLevel: string;
  drainTimeout: number | string;
  zones: string[];
  tls: { certFile: string; keyFile: string };
}

describe('options/merge', function () {
  it('applies flags over env over file over defaults', function () {
    const merged = mergeOptions<ZoneOptions>({
      defaults: { httpAddr: ':8500', logLevel: 'info', drainTimeout: '10s' },
      file: { httpAddr: '10.0.0.1:8500', logLevel: 'warn', zones: ['a'] },
      env: { logLevel: 'debug', drainTimeout: 5000 },
      flags: { logLevel: 'trace' },
    });
    expect(merged).to.deep.equal({
      httpAddr: '10.0.0.1:8500',
      logLevel: 'trace',
      drainTimeout: 5000,
      zones: ['a'],
    });
  });

  it('never lets undefined (an unset commander flag) override a value', function () {
    const merged = mergeOptions<ZoneOptions>({
      env: { httpAddr: '127.0.0.1:1' },
      flags: { httpAddr: undefined },
    });
    expect(merged.httpAddr).to.equal('127.0.0.1:1');
  });

  it('merges nested objects field by field and replaces arrays whole', function () {
    const file = { tls: { certFile: 'file.crt', keyFile: 'file.key' }, zones: ['a', 'b'] };
    const merged = mergeOptions<ZoneOptions>({
      file,
      flags: { tls: { certFile: 'flag.crt' }, zones: ['c'] },
    });
    expect(merged).to.deep.equal({
      tls: { certFile: 'flag.crt', keyFile: 'file.key' },
      zones: ['c'],
    });
    expect(file.tls.certFile, 'inputs are not modified').to.equal('file.crt');
    expect(merged.tls).to.not.equal(file.tls);
  });

  it('tells plain objects from arrays, Buffers and class instances', function () {
    expect(isPlainObject({})).to.equal(true);
    expect(isPlainObject(Object.create(null))).to.equal(true);
    expect(isPlainObject([])).to.equal(false);
    expect(isPlainObject(Buffer.from('x'))).to.equal(false);
    expect(isPlainObject(new URL('http://x'))).to.equal(false);
    expect(isPlainObject(null)).to.equal(false);
  });
});

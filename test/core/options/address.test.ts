import { expect } from 'chai';
import { formatAddr, parseAddr } from '../../../core/src/options/address.ts';
import { configError } from '../../helpers/config-error.ts';

describe('options/address', function () {
  it('parses IPv4, host names and bracketed IPv6', function () {
    expect(parseAddr('127.0.0.1:8500', 'httpAddr')).to.deep.equal({
      host: '127.0.0.1',
      port: 8500,
    });
    expect(parseAddr('zone-1.mesh.local:7701', 'x')).to.deep.equal({
      host: 'zone-1.mesh.local',
      port: 7701,
    });
    expect(parseAddr('[::1]:15000', 'x')).to.deep.equal({ host: '::1', port: 15000 });
    expect(parseAddr(' localhost:1 ', 'x')).to.deep.equal({ host: 'localhost', port: 1 });
  });

  it('fills in the default host for ":port", as Go listeners do', function () {
    expect(parseAddr(':8500', 'x')).to.deep.equal({ host: '0.0.0.0', port: 8500 });
    expect(parseAddr(':8500', 'x', { defaultHost: '::' })).to.deep.equal({
      host: '::',
      port: 8500,
    });
  });

  it('accepts port 0 for listeners unless told not to', function () {
    expect(parseAddr('127.0.0.1:0', 'x').port).to.equal(0);
    const err = configError(() => parseAddr('127.0.0.1:0', 'upstream', { allowPortZero: false }));
    expect(err.message).to.match(/out of range/);
  });

  const invalid: [unknown, RegExp][] = [
    ['127.0.0.1', /has no port; write e.g. "127.0.0.1:8500"/],
    ['127.0.0.1:', /port "" must be a number/],
    ['127.0.0.1:http', /port "http" must be a number/],
    ['127.0.0.1:65536', /out of range/],
    ['127.0.0.1:-1', /must be a number/],
    ['::1:8500', /IPv6 hosts need brackets/],
    ['[::1]8500', /must look like "\[::1\]:8500"/],
    ['[zone]:8500', /not an IPv6 address/],
    ['bad_host!:80', /not a valid host name/],
    ['', /must be an address/],
    [8500, /must be an address/],
  ];
  for (const [input, message] of invalid) {
    it(`refuses ${JSON.stringify(input)} naming the field`, function () {
      const err = configError(() => parseAddr(input, 'httpAddr'));
      expect(err.field).to.equal('httpAddr');
      expect(err.message).to.match(/^httpAddr/);
      expect(err.message).to.match(message);
    });
  }

  it('formats addresses back, bracketing IPv6', function () {
    expect(formatAddr({ host: '::1', port: 80 })).to.equal('[::1]:80');
    expect(formatAddr({ host: '10.0.0.1', port: 80 })).to.equal('10.0.0.1:80');
  });
});

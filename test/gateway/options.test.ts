import { expect } from 'chai';
import { resolveGatewayCliOptions } from '../../gateway/index.ts';
import { parseGatewayFlags } from '../../gateway/src/flags.ts';
import { configError } from '../helpers/config-error.ts';

describe('gateway options', () => {
  it('reads flags over CAUSEWAY_* variables', () => {
    const options = resolveGatewayCliOptions(
      parseGatewayFlags(['--bootstrap', 'gw.yaml', '--public-listen', '0.0.0.0:16443'], {
        CAUSEWAY_GATEWAY_NAME: 'east-gw',
        CAUSEWAY_PUBLIC_LISTEN: '127.0.0.1:1',
        CAUSEWAY_LOCAL_LISTEN: '127.0.0.1:16444',
        CAUSEWAY_HELLO_TIMEOUT: '2s',
      }),
    );
    expect(options).to.deep.equal({
      mode: 'bootstrap',
      bootstrap: 'gw.yaml',
      name: 'east-gw',
      publicListen: { host: '0.0.0.0', port: 16443 },
      localListen: { host: '127.0.0.1', port: 16444 },
      adminAddr: undefined,
      helloTimeoutMs: 2000,
    });
  });

  it('leaves listeners unset for the bootstrap file or the defaults to fill', () => {
    const options = resolveGatewayCliOptions({ bootstrap: 'gw.yaml' });
    expect(options.publicListen).to.equal(undefined);
    expect(options.helloTimeoutMs).to.equal(10_000);
  });

  it('names the option at fault', () => {
    configError(() => resolveGatewayCliOptions({}), 'bootstrap');
    configError(
      () => resolveGatewayCliOptions({ bootstrap: 'x', zoneControl: 'wss://z:7701' }),
      'zoneControl',
    );
    configError(() => resolveGatewayCliOptions({ bootstrap: 'x', name: 'East GW' }), 'name');
    configError(
      () => resolveGatewayCliOptions({ bootstrap: 'x', publicListen: 'nowhere' }),
      'publicListen',
    );
    configError(
      () => resolveGatewayCliOptions({ bootstrap: 'x', helloTimeout: '1ms' }),
      'helloTimeout',
    );
    expect(() => parseGatewayFlags(['--nope'], {})).to.throw(/unknown option '--nope'/);
  });
});

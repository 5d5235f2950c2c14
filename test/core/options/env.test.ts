import { expect } from 'chai';
import { envName, readEnvOptions } from '../../../core/src/options/env.ts';
import { ConfigError } from '../../../core/src/errors.ts';
import { parseLogLevel } from '../../../core/src/logging.ts';

describe('options/env', function () {
  it('names variables after options in upper snake case', function () {
    expect(envName('httpAddr')).to.equal('CAUSEWAY_HTTP_ADDR');
    expect(envName('logLevel')).to.equal('CAUSEWAY_LOG_LEVEL');
    expect(envName('tlsCAFile')).to.equal('CAUSEWAY_TLS_CA_FILE');
    expect(envName('store')).to.equal('CAUSEWAY_STORE');
    expect(envName('dataDir', 'KUMA_')).to.equal('KUMA_DATA_DIR');
  });

  it('reads and parses each option by kind', function () {
    const env = {
      CAUSEWAY_HTTP_ADDR: '127.0.0.1:8500',
      CAUSEWAY_DRAIN_TIMEOUT: '1.5s',
      CAUSEWAY_MAX_CONNS: '100',
      CAUSEWAY_PRETTY: 'yes',
      CAUSEWAY_ZONES: 'east, west',
      CAUSEWAY_LOG_LEVEL: 'debug',
      CAUSEWAY_NAME: 'zone-1',
      HTTP_ADDR: 'ignored: no prefix',
    };
    const options = readEnvOptions(env, {
      httpAddr: 'addr',
      drainTimeout: 'duration',
      maxConns: 'integer',
      pretty: 'boolean',
      zones: 'list',
      logLevel: parseLogLevel,
      name: 'string',
    });
    expect(options).to.deep.equal({
      httpAddr: '127.0.0.1:8500',
      drainTimeout: 1500,
      maxConns: 100,
      pretty: true,
      zones: ['east', 'west'],
      logLevel: 'debug',
      name: 'zone-1',
    });
    // The result is typed from the spec: this line would not compile otherwise.
    const ms: number | undefined = options.drainTimeout;
    expect(ms).to.equal(1500);
  });

  it('treats unset and empty variables as absent', function () {
    const options = readEnvOptions(
      { CAUSEWAY_STORE: '', CAUSEWAY_DATA_DIR: '   ' },
      { store: 'string', dataDir: 'string', httpAddr: 'addr' },
    );
    expect(options).to.deep.equal({});
  });

  it('uses a custom prefix', function () {
    expect(readEnvOptions({ TEST_X_Y: 'v' }, { xY: 'string' }, 'TEST_')).to.deep.equal({ xY: 'v' });
  });

  it('names the variable when a value is invalid', function () {
    const cases: [Record<string, string>, Record<string, 'addr' | 'duration' | 'integer'>][] = [
      [{ CAUSEWAY_HTTP_ADDR: 'localhost' }, { httpAddr: 'addr' }],
      [{ CAUSEWAY_DRAIN_TIMEOUT: '30' }, { drainTimeout: 'duration' }],
      [{ CAUSEWAY_MAX_CONNS: 'lots' }, { maxConns: 'integer' }],
    ];
    for (const [env, spec] of cases) {
      const name = Object.keys(env)[0]!;
      expect(() => readEnvOptions(env, spec))
        .to.throw(ConfigError)
        .with.property('field', name);
    }
    expect(() => readEnvOptions({ CAUSEWAY_LOG_LEVEL: 'loud' }, { logLevel: parseLogLevel }))
      .to.throw(ConfigError, /^CAUSEWAY_LOG_LEVEL must be one of trace, debug/)
      .with.property('field', 'CAUSEWAY_LOG_LEVEL');
  });
});

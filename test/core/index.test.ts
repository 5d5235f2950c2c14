/** core/index.ts is the door other folders use; it must expose the shared pieces. */
import { expect } from 'chai';
import * as core from '../../core/index.ts';

describe('core public surface', function () {
  it('exports errors, options, logging, lifecycle and the store factories', function () {
    for (const name of [
      'CausewayError',
      'isRetryable',
      'toErrorBody',
      'parseDuration',
      'mergeOptions',
      'redact',
      'createLogger',
      'childLogger',
      'runComponents',
      'validateKey',
      'openStore',
      'openEmbeddedStore',
      'openRedisStore',
      'parseRedisUrl',
    ]) {
      expect(core, name).to.have.property(name).that.is.a('function');
    }
    expect(core.MAX_VALUE_BYTES).to.equal(512 * 1024);
  });

  it('opens the embedded store by default and refuses an unknown scheme', async function () {
    const store = await core.openStore(undefined);
    try {
      expect(store.kind).to.equal('embedded');
    } finally {
      await store.close();
    }
    try {
      await core.openStore('etcd://127.0.0.1:2379');
      expect.fail('openStore accepted etcd://');
    } catch (err) {
      expect(err).to.be.instanceOf(core.ConfigError);
      expect((err as Error).message).to.match(/unsupported store "etcd:"/);
    }
  });
});

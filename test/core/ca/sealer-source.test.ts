import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { SEALING_KEY_FILE, resolveSealer } from '../../../core/src/ca/sealer-source.ts';
import type { SealerSource } from '../../../core/src/ca/sealer-source.ts';
import { ConfigError } from '../../../core/src/errors.ts';

const silent = pino({ level: 'silent' });
const KEY = Buffer.alloc(32, 9).toString('base64');
const none: SealerSource = {
  store: undefined,
  dataDir: undefined,
  caEncryptionKey: undefined,
  caEncryptionKeyFile: undefined,
};

async function refusal(source: SealerSource): Promise<ConfigError> {
  try {
    await resolveSealer(source, silent);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected resolveSealer to refuse');
}

describe('ca/sealer-source', function () {
  let dir: string;
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'cw-sealer-'));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes the key from the environment first, then from the key file', async function () {
    const file = join(dir, 'key');
    writeFileSync(file, Buffer.alloc(32, 1).toString('hex'));
    const fromEnv = await resolveSealer(
      { ...none, caEncryptionKey: KEY, caEncryptionKeyFile: file },
      silent,
    );
    const fromFile = await resolveSealer({ ...none, caEncryptionKeyFile: file }, silent);
    expect(fromEnv.unseal(fromEnv.seal('x', 'r'), 'r')).to.equal('x');
    expect(fromEnv.keyId).not.to.equal(fromFile.keyId);
    const again = await resolveSealer({ ...none, caEncryptionKeyFile: file }, silent);
    expect(again.keyId).to.equal(fromFile.keyId);
  });

  it('names the key file it cannot read', async function () {
    const err = await refusal({ ...none, caEncryptionKeyFile: join(dir, 'missing') });
    expect(err.field).to.equal('caEncryptionKeyFile');
    expect(err.message).to.include('missing');
  });

  it('creates <data-dir>/ca-encryption.key (0600) for the embedded store and reuses it', async function () {
    const first = await resolveSealer({ ...none, dataDir: dir }, silent);
    const file = join(dir, SEALING_KEY_FILE);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    const second = await resolveSealer({ ...none, store: 'embedded', dataDir: dir }, silent);
    expect(second.keyId).to.equal(first.keyId);
  });

  it('uses a process-lifetime key for a store that lives in memory', async function () {
    const a = await resolveSealer({ ...none, store: 'memory', dataDir: dir }, silent);
    const b = await resolveSealer(none, silent);
    expect(a.keyId).not.to.equal(b.keyId);
    expect(() => statSync(join(dir, SEALING_KEY_FILE))).to.throw();
  });

  it('refuses a shared store without a key, naming who needs it', async function () {
    const zone = await refusal({ ...none, store: 'redis://127.0.0.1:6379' });
    expect(zone.message).to.match(/^a zone on a shared store needs a CA encryption key/);
    const global = await refusal({
      ...none,
      store: 'redis://127.0.0.1:6379',
      who: 'the global control plane',
    });
    expect(global.message).to.match(/^the global control plane on a shared store/);
    expect(global.field).to.equal('caEncryptionKey');
  });
});

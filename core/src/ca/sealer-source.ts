/**
 * Where a control plane's CA sealing key (see `key-sealing.ts`) comes from, in this order:
 * `CAUSEWAY_CA_ENCRYPTION_KEY`; `--ca-encryption-key-file`; for the embedded store with a
 * data directory, `<data-dir>/ca-encryption.key` (created 0600 at first start, like the
 * store's own files it lives beside); for a store that lives only in memory, a random key
 * that dies with the process, as the CA does. A shared store (Redis) needs an explicit
 * key: every replica must have the same one, and it must not live in the store itself.
 *
 * Zones and the global control plane both seal their keys this way.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../logging.ts';
import { KeySealer, parseSealingKey } from './key-sealing.ts';

/** The file the generated key is kept in, inside the data directory. */
export const SEALING_KEY_FILE = 'ca-encryption.key';

export interface SealerSource {
  /** The store URL (`--store`); unset means the embedded store. */
  store: string | undefined;
  dataDir: string | undefined;
  /** The key itself (from `CAUSEWAY_CA_ENCRYPTION_KEY`). */
  caEncryptionKey: string | undefined;
  caEncryptionKeyFile: string | undefined;
  /**
   * Who needs the key, for the error on a shared store without one ("a zone", "the global
   * control plane").
   * @default "a zone"
   */
  who?: string;
}

/** The sealer for `source`'s CA keys; ConfigError when none can be found or read. */
export async function resolveSealer(source: SealerSource, logger: Logger): Promise<KeySealer> {
  if (source.caEncryptionKey !== undefined) {
    return parseSealingKey(source.caEncryptionKey, 'CAUSEWAY_CA_ENCRYPTION_KEY');
  }
  if (source.caEncryptionKeyFile !== undefined) {
    const file = source.caEncryptionKeyFile;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `cannot read the CA encryption key file ${file}: ${(err as Error).message}`,
        'caEncryptionKeyFile',
      );
    }
    return parseSealingKey(text, `the CA encryption key file ${file}`);
  }
  const store = source.store?.trim() ?? '';
  const embedded = store === '' || store.startsWith('embedded');
  const memoryOnly = store.startsWith('memory') || (embedded && source.dataDir === undefined);
  if (memoryOnly) return KeySealer.generate();
  if (embedded && source.dataDir !== undefined) {
    const file = join(source.dataDir, SEALING_KEY_FILE);
    if (!existsSync(file)) {
      await mkdir(source.dataDir, { recursive: true });
      // 'wx' fails if a concurrent first start won the race; then we read its key.
      await writeFile(file, randomBytes(32).toString('base64') + '\n', {
        mode: 0o600,
        flag: 'wx',
      }).then(
        () => logger.info({ file }, 'created the CA encryption key'),
        (err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        },
      );
    }
    return parseSealingKey(await readFile(file, 'utf8'), `the CA encryption key file ${file}`);
  }
  throw new ConfigError(
    `${source.who ?? 'a zone'} on a shared store needs a CA encryption key: set CAUSEWAY_CA_ENCRYPTION_KEY or --ca-encryption-key-file (make one with: openssl rand -base64 32)`,
    'caEncryptionKey',
  );
}

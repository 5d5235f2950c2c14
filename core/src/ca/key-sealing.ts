/**
 * CA private keys at rest: sealed with AES-256-GCM under a key the operator provides
 * (a file, or an environment variable), so a copy of the store — a Redis dump, a backup
 * of the data directory — does not hand out the mesh's identities.
 *
 * A sealed value is `cw-sealed:v1:<key id>:<iv>:<tag>:<ciphertext>` (base64url parts). The
 * key id (first 8 bytes of SHA-256 of the key, hex) lets an operator who starts a zone with
 * the wrong key see "sealed with key 1a2b…, this process has 3c4d…" instead of a generic
 * decryption failure. The record's own name is bound in as associated data, so a sealed
 * key cannot be moved to another record (say, from an old root to the active one).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ConfigError, CorruptDataError, InvalidArgumentError } from '../errors.ts';

const PREFIX = 'cw-sealed:v1';
const KEY_BYTES = 32;

export class KeySealer {
  /** Identifies the sealing key without revealing it. */
  readonly keyId: string;
  readonly #key: Buffer;

  /** @param key - 32 bytes. */
  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) {
      throw new InvalidArgumentError(
        `the CA encryption key must be ${KEY_BYTES} bytes (got ${key.length})`,
        'caEncryptionKey',
      );
    }
    this.#key = Buffer.from(key);
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  /** A fresh random key, for tests and for a store that lives only in memory. */
  static generate(): KeySealer {
    return new KeySealer(randomBytes(KEY_BYTES));
  }

  seal(plaintext: string, recordName: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(recordName));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const parts = [iv, cipher.getAuthTag(), ciphertext].map((b) => b.toString('base64url'));
    return [PREFIX, this.keyId, ...parts].join(':');
  }

  /**
   * @throws ConfigError when the value was sealed with another key;
   *   CorruptDataError when it is malformed or was tampered with.
   */
  unseal(sealed: string, recordName: string): string {
    const parts = sealed.split(':');
    if (parts.length !== 6 || `${parts[0]}:${parts[1]}` !== PREFIX) {
      throw new CorruptDataError(`${recordName}: not a sealed key`);
    }
    const [, , keyId, iv, tag, ciphertext] = parts as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    if (keyId !== this.keyId) {
      throw new ConfigError(
        `${recordName} was sealed with CA encryption key ${keyId}, but this process has key ${this.keyId}; start it with the key the CA was created with`,
        'caEncryptionKey',
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(recordName));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([
        decipher.update(Buffer.from(ciphertext, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
    } catch (err) {
      throw new CorruptDataError(`${recordName}: sealed key fails authentication`, err);
    }
  }

  /** Never print the key, whatever logs the object. */
  toJSON(): { keyId: string } {
    return { keyId: this.keyId };
  }
}

/**
 * Decode an operator-provided key: 32 bytes as base64 (44 characters) or hex (64). Anything
 * else is a ConfigError that says how to make one (`openssl rand -base64 32`).
 */
export function parseSealingKey(text: string, source: string): KeySealer {
  const trimmed = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) key = Buffer.from(trimmed, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) key = Buffer.from(trimmed, 'base64');
  if (key?.length !== KEY_BYTES) {
    throw new ConfigError(
      `${source} must hold a 32-byte key as base64 or hex (make one with: openssl rand -base64 32)`,
      'caEncryptionKey',
    );
  }
  return new KeySealer(key);
}

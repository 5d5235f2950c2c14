/**
 * Key generation with Node's crypto (OpenSSL), and the key types certificates may carry.
 *
 * ECDSA P-256 is the default, as in Consul's built-in CA. From `npm run bench:ca` on one
 * core here: ~2,000 leaf signings/s against ~850 with RSA-2048 (OpenSSL itself signs only
 * ~1,450 RSA-2048/s), a mutual TLS 1.3 handshake costs 4.4 ms of CPU against 5.3 ms, and
 * a key pair 0.1 ms against ~200 ms. RSA 2048..8192
 * stays accepted everywhere, since imported CAs and older workloads use it. Keys stay
 * `KeyObject`s; they are exported only where a PEM is needed (TLS options, storage).
 */
import { generateKeyPair as generateKeyPairCb } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { InvalidArgumentError } from '../errors.ts';
import type { CertificateKeyType } from './x509.ts';

export type { CertificateKeyType } from './x509.ts';

const generate = promisify(generateKeyPairCb);

/** The smallest RSA modulus the CA signs. */
export const MIN_RSA_BITS = 2048;
/** The largest RSA modulus the CA signs. */
export const MAX_RSA_BITS = 8192;
/** The only EC curve the CA signs: P-256, by its OpenSSL name. */
export const EC_CURVE = 'prime256v1';

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export type KeySpec =
  /** @default bits 2048 */
  | { type: 'rsa'; bits?: number }
  /** ECDSA P-256 (prime256v1). */
  | { type: 'ec' };

/** Generate a key pair; ECDSA P-256 unless told otherwise. */
export async function generateKeyPair(spec: KeySpec = { type: 'ec' }): Promise<KeyPair> {
  if (spec.type === 'ec') return generate('ec', { namedCurve: EC_CURVE });
  const bits = spec.bits ?? 2048;
  if (!Number.isInteger(bits) || bits < 1024 || bits > MAX_RSA_BITS) {
    throw new InvalidArgumentError(
      `bits must be an integer in 1024..${MAX_RSA_BITS} (got ${bits})`,
      'bits',
    );
  }
  return generate('rsa', { modulusLength: bits, publicExponent: 0x10001 });
}

/** PKCS#8 PEM of a private key, for `tls` options. */
export function privateKeyToPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/**
 * Check that a certificate may carry `key`: EC on P-256, or RSA of
 * {@link MIN_RSA_BITS}..{@link MAX_RSA_BITS} bits.
 *
 * @param what - how messages name the key ("CSR key", "root key").
 * @throws InvalidArgumentError (field `field`) naming what is wrong with the key.
 */
export function certificateKeyType(
  key: KeyObject,
  what: string,
  field: string,
): CertificateKeyType {
  const accepted = `only P-256 (${EC_CURVE}) or RSA ${MIN_RSA_BITS}-${MAX_RSA_BITS} are accepted`;
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (details.namedCurve === EC_CURVE) return 'ec';
      throw new InvalidArgumentError(
        `${what} is EC on ${details.namedCurve ?? 'an unnamed curve'}; ${accepted}`,
        field,
      );
    case 'rsa': {
      const bits = details.modulusLength ?? 0;
      if (bits < MIN_RSA_BITS) {
        throw new InvalidArgumentError(
          `${what} is RSA-${bits}; at least RSA-${MIN_RSA_BITS} is required`,
          field,
        );
      }
      if (bits > MAX_RSA_BITS) {
        throw new InvalidArgumentError(
          `${what} is RSA-${bits}; at most RSA-${MAX_RSA_BITS} is accepted`,
          field,
        );
      }
      return 'rsa';
    }
    default:
      throw new InvalidArgumentError(
        `${what} is ${key.asymmetricKeyType ?? key.type}; ${accepted}`,
        field,
      );
  }
}

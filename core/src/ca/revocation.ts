/**
 * Revoked leaf serials. A revoked leaf is refused by every peer that holds the list even
 * though its signature and dates are still good; entries can be dropped once the leaf
 * has expired, because an expired leaf is refused anyway.
 */
import type { PeerCertificate } from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import { InvalidArgumentError } from '../errors.ts';

/** Serials compare as lowercase hex without leading zeros (OpenSSL and Node differ). */
export function normalizeSerial(serial: string, field = 'serial'): string {
  const hex = serial.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{1,64}$/.test(hex)) {
    throw new InvalidArgumentError(
      `${field} must be a certificate serial number in hex (got ${JSON.stringify(serial)})`,
      field,
    );
  }
  return hex.replace(/^0+(?=.)/, '');
}

export class RevocationList {
  readonly #serials: Set<string>;

  constructor(serials: Iterable<string> = []) {
    this.#serials = new Set([...serials].map((s) => normalizeSerial(s)));
  }

  get size(): number {
    return this.#serials.size;
  }

  /** Whether a certificate (Node's X509Certificate or a TLS peer certificate) is revoked. */
  isRevoked(
    cert: Pick<X509Certificate, 'serialNumber'> | Pick<PeerCertificate, 'serialNumber'>,
  ): boolean {
    return this.#serials.has(normalizeSerial(cert.serialNumber));
  }

  serials(): string[] {
    return [...this.#serials].sort();
  }
}

/**
 * What the global CA keeps in the store. Private keys appear only sealed (core
 * `key-sealing.ts`), bound to their record's name.
 *
 * | key | record |
 * |---|---|
 * | `ca/global-root` | {@link GlobalRootRecord}: the mesh's root CA |
 * | `ca/zone-token-key` | {@link TokenKeyRecord}: the EC P-256 key zone tokens are signed with |
 * | `ca/zone-intermediate/<zone>/<serial>` | {@link ZoneIntermediateRecord}: each zone intermediate issued |
 *
 * The first two are created with check-and-set (`cas: 0`), so two replicas starting
 * together on one store end up with the same root and the same token key.
 */
import { CorruptDataError } from '../../../core/index.ts';
import type { SealedKey } from '../../../core/index.ts';

export const GLOBAL_ROOT_KEY = 'ca/global-root';
export const ZONE_TOKEN_SIGNING_KEY = 'ca/zone-token-key';
export const ZONE_INTERMEDIATE_PREFIX = 'ca/zone-intermediate/';

export const zoneIntermediateKey = (zone: string, serial: string): string =>
  `${ZONE_INTERMEDIATE_PREFIX}${zone}/${serial}`;

export interface GlobalRootRecord {
  schema: 1;
  trustDomain: string;
  /** SHA-1 fingerprint, lowercase colon hex (the zones' root ID, as Consul's). */
  id: string;
  /** SHA-256 of the DER, lowercase hex: what zone tokens carry. */
  pin: string;
  certificatePem: string;
  key: SealedKey;
  createdAt: string;
}

export interface TokenKeyRecord {
  schema: 1;
  publicKeyPem: string;
  key: SealedKey;
  createdAt: string;
}

export interface ZoneIntermediateRecord {
  zone: string;
  /** Lowercase hex, no leading zeros. */
  serial: string;
  spiffeId: string;
  /** The root that signed it. */
  rootId: string;
  certificatePem: string;
  issuedAt: string;
  notAfter: string;
}

/** Parse a stored record, checking the fields this process relies on. */
export function decodeStored<T>(key: string, raw: Buffer, required: readonly (keyof T)[]): T {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new CorruptDataError(`${key} is not JSON`, err);
  }
  if (typeof value !== 'object' || value === null) {
    throw new CorruptDataError(`${key} is not an object`);
  }
  for (const field of required) {
    if ((value as Record<string, unknown>)[field as string] === undefined) {
      throw new CorruptDataError(`${key} has no ${String(field)}`);
    }
  }
  return value as T;
}

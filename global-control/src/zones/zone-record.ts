/**
 * A registered zone as the store keeps it: `zones/<name>` → {@link ZoneRecord} (JSON,
 * written with check-and-set).
 */
import { CorruptDataError, ZONE_KINDS, isDnsLabel } from '../../../core/index.ts';
import type { ZoneKind } from '../../../core/index.ts';

export const ZONES_PREFIX = 'zones/';
export const zoneKey = (name: string): string => `${ZONES_PREFIX}${name}`;

export interface ZoneRecord {
  /** A DNS label; the zone's SPIFFE IDs are `spiffe://<td>/zone/<name>/…`. */
  name: string;
  kind: ZoneKind;
  /** A disabled zone's tokens and sessions are refused. */
  enabled: boolean;
  createdAt: string;
  /**
   * Tokens issued before this instant are refused (a rotation moves it). Always a whole
   * second, since tokens carry `iat` in seconds.
   */
  tokensValidAfter: string;
}

/** The record's store entry, with the index check-and-set writes compare against. */
export interface StoredZone {
  zone: ZoneRecord;
  modifyIndex: number;
}

export function encodeZone(zone: ZoneRecord): Buffer {
  return Buffer.from(JSON.stringify(zone));
}

export function decodeZone(key: string, raw: Buffer): ZoneRecord {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new CorruptDataError(`${key} is not JSON`, err);
  }
  const z = value as Partial<ZoneRecord> | null;
  if (
    typeof z !== 'object' ||
    z === null ||
    !isDnsLabel(z.name) ||
    !(ZONE_KINDS as readonly unknown[]).includes(z.kind) ||
    typeof z.enabled !== 'boolean' ||
    typeof z.createdAt !== 'string' ||
    typeof z.tokensValidAfter !== 'string' ||
    Number.isNaN(Date.parse(z.tokensValidAfter))
  ) {
    throw new CorruptDataError(`${key} is not a zone record`);
  }
  return {
    name: z.name,
    kind: z.kind as ZoneKind,
    enabled: z.enabled,
    createdAt: z.createdAt,
    tokensValidAfter: z.tokensValidAfter,
  };
}

/**
 * Checking the zone API's inputs: path names and JSON bodies. Every refusal is a 400 that
 * names the field at fault; fields an endpoint does not know are refused, not ignored.
 */
import {
  InvalidArgumentError,
  ZONE_KINDS,
  isDnsLabel,
  parseDuration,
} from '../../../core/index.ts';
import type { ZoneKind } from '../../../core/index.ts';
import { objectBody } from '../http/body.ts';
import { MAX_ZONE_TOKEN_TTL_MS, MIN_ZONE_TOKEN_TTL_MS } from '../options.ts';

export interface CreateZoneRequest {
  name: string;
  kind: ZoneKind;
  tokenTtlMs?: number;
}

export interface TokenRequest {
  ttlMs?: number;
  rotate: boolean;
}

/** A zone name from a path or a body: a lowercase DNS label. */
export function zoneName(value: unknown, field = 'name'): string {
  if (!isDnsLabel(value)) {
    throw new InvalidArgumentError(
      `${field} must be a lowercase DNS label of 1-63 letters, digits and inner hyphens (got ${JSON.stringify(value)})`,
      field,
    );
  }
  return value;
}

function zoneKind(value: unknown): ZoneKind {
  if (!(ZONE_KINDS as readonly unknown[]).includes(value)) {
    throw new InvalidArgumentError(
      `kind must be "kubernetes" or "universal" (got ${JSON.stringify(value)})`,
      'kind',
    );
  }
  return value as ZoneKind;
}

/** A token lifetime: a duration string ("24h", "90m") from 1m to 8760h. */
function tokenTtl(value: unknown, field: string): number {
  let ms: number | undefined;
  if (typeof value === 'string') {
    try {
      ms = parseDuration(value, field);
    } catch {
      ms = undefined;
    }
  }
  if (ms === undefined || ms < MIN_ZONE_TOKEN_TTL_MS || ms > MAX_ZONE_TOKEN_TTL_MS) {
    throw new InvalidArgumentError(
      `${field} must be a duration from 1m to 8760h, like "24h" (got ${JSON.stringify(value)})`,
      field,
    );
  }
  return ms;
}

/** `POST /api/zones` `{name, kind, tokenTtl?}`. */
export function parseCreateZone(body: unknown): CreateZoneRequest {
  const b = objectBody(body, ['name', 'kind', 'tokenTtl']);
  if (b.name === undefined) throw new InvalidArgumentError('name is required', 'name');
  if (b.kind === undefined) {
    throw new InvalidArgumentError('kind is required: "kubernetes" or "universal"', 'kind');
  }
  return {
    name: zoneName(b.name),
    kind: zoneKind(b.kind),
    ...(b.tokenTtl !== undefined ? { tokenTtlMs: tokenTtl(b.tokenTtl, 'tokenTtl') } : {}),
  };
}

/** `POST /api/zones/:name/token` `{ttl?, rotate?}`. */
export function parseTokenRequest(body: unknown): TokenRequest {
  const b = objectBody(body, ['ttl', 'rotate']);
  if (b.rotate !== undefined && typeof b.rotate !== 'boolean') {
    throw new InvalidArgumentError(
      `rotate must be true or false (got ${JSON.stringify(b.rotate)})`,
      'rotate',
    );
  }
  return {
    rotate: b.rotate === true,
    ...(b.ttl !== undefined ? { ttlMs: tokenTtl(b.ttl, 'ttl') } : {}),
  };
}

/** `PATCH /api/zones/:name` `{enabled}`. */
export function parsePatchZone(body: unknown): { enabled: boolean } {
  const b = objectBody(body, ['enabled']);
  if (typeof b.enabled !== 'boolean') {
    throw new InvalidArgumentError(
      `enabled must be true or false (got ${JSON.stringify(b.enabled)})`,
      'enabled',
    );
  }
  return { enabled: b.enabled };
}

/**
 * Shape checks for every resource body zone sync carries, run by the receiver before it
 * stores anything. A zone's resources end up in other zones' proxy configs, so global
 * checks them as carefully as any API input; the errors name the field.
 */
import { isDnsLabel, parseSpiffeId } from '../ca/spiffe.ts';
import { HEALTH_STATUSES, PROTOCOLS } from '../catalog/types.ts';
import { decodeConfigEntry } from '../config-entries/decode.ts';
import { InvalidArgumentError } from '../errors.ts';
import { MAX_VALUE_BYTES } from '../store/types.ts';
import { validateKey } from '../store/validate.ts';
import { MAX_KV_KEY_BYTES, kvResourceName } from './kv-scopes.ts';
import type { ResourceValidator } from './resource-inbox.ts';
import {
  GLOBAL_POLICY_KINDS,
  MAX_POLICY_META_KEYS,
  POLICY_ORIGIN_META,
  policyResourceName,
  remoteRevocationName,
} from './resources.ts';
import type { GlobalResourceType, ZoneResourceType } from './resources.ts';

type Fields = Record<string, unknown>;

function object(body: unknown): Fields {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidArgumentError('body must be an object', 'body');
  }
  return body as Fields;
}

function label(v: Fields, field: string): string {
  const value = v[field];
  if (!isDnsLabel(value))
    throw new InvalidArgumentError(`${field} must be a lowercase DNS label`, field);
  return value;
}

function text(v: Fields, field: string, max = 256, optional = false): void {
  const value = v[field];
  if (optional && value === undefined) return;
  if (typeof value !== 'string' || value.length > max) {
    throw new InvalidArgumentError(`${field} must be a string of at most ${max} characters`, field);
  }
}

function port(v: Fields, field: string, optional = false): void {
  const value = v[field];
  if (optional && value === undefined) return;
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 65535) {
    throw new InvalidArgumentError(`${field} must be a port number`, field);
  }
}

function count(v: Fields, field: string): number {
  const value = v[field];
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new InvalidArgumentError(`${field} must be a non-negative integer`, field);
  }
  return value as number;
}

function oneOf(v: Fields, field: string, allowed: readonly string[]): void {
  if (!allowed.includes(v[field] as string)) {
    throw new InvalidArgumentError(`${field} must be one of ${allowed.join(', ')}`, field);
  }
}

function strings(v: Fields, field: string, maxItems: number): string[] {
  const value = v[field];
  if (
    !Array.isArray(value) ||
    value.length > maxItems ||
    value.some((s) => typeof s !== 'string' || s.length > 256)
  ) {
    throw new InvalidArgumentError(`${field} must be a list of at most ${maxItems} strings`, field);
  }
  return value as string[];
}

function stringMap(v: Fields, field: string): void {
  const value = v[field];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`${field} must be an object of strings`, field);
  }
  const entries = Object.entries(value);
  if (
    entries.length > 64 ||
    entries.some(([k, s]) => k.length > 128 || typeof s !== 'string' || s.length > 512)
  ) {
    throw new InvalidArgumentError(`${field} must have at most 64 string values`, field);
  }
}

/** The name must be exactly what the body says it is, so two names cannot hold one thing. */
function sameName(name: string, expected: string): void {
  if (name !== expected) {
    throw new InvalidArgumentError(
      `name ${JSON.stringify(name)} does not match the body (${expected})`,
      'name',
    );
  }
}

const gatewayFields = (v: Fields): void => {
  label(v, 'name');
  text(v, 'publicAddress', 255);
  port(v, 'publicPort');
  oneOf(v, 'health', HEALTH_STATUSES);
};

/** A serial as the CA records it: lowercase hex without leading zeros, X.509's 20 octets. */
const SERIAL = /^(?:0|[1-9a-f][0-9a-f]{0,39})$/;
/** What `Date.prototype.toISOString` writes (with or without milliseconds). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

function isoTime(v: Fields, field: string): void {
  const value = v[field];
  if (typeof value !== 'string' || !ISO_TIME.test(value) || Number.isNaN(Date.parse(value))) {
    throw new InvalidArgumentError(
      `${field} must be an ISO time like 2030-01-01T00:00:00.000Z`,
      field,
    );
  }
}

/** The fields of a revocation record; returns its serial and the zone of its SPIFFE ID. */
function revocationFields(v: Fields): { serial: string; zone: string } {
  const serial = v.serial;
  if (typeof serial !== 'string' || !SERIAL.test(serial)) {
    throw new InvalidArgumentError(
      'serial must be lowercase hex of at most 40 digits, without leading zeros',
      'serial',
    );
  }
  text(v, 'spiffeId', 2048);
  const { zone } = parseSpiffeId(v.spiffeId, 'spiffeId');
  text(v, 'reason', 256);
  isoTime(v, 'revokedAt');
  isoTime(v, 'notAfter');
  return { serial, zone };
}

/** Validators for what a zone sends global. */
export const zoneResourceValidators: Record<ZoneResourceType, ResourceValidator> = {
  instance(name, body) {
    const v = object(body);
    const service = label(v, 'service');
    const namespace = label(v, 'namespace');
    text(v, 'instanceId', 256);
    sameName(name, `${namespace}/${service}/${v.instanceId as string}`);
    text(v, 'node', 256);
    text(v, 'address', 255);
    port(v, 'port');
    port(v, 'inboundPort', true);
    oneOf(v, 'protocol', PROTOCOLS);
    oneOf(v, 'health', HEALTH_STATUSES);
    strings(v, 'tags', 64);
    stringMap(v, 'meta');
  },
  gateway(name, body) {
    const v = object(body);
    gatewayFields(v);
    sameName(name, v.name as string);
  },
  export(name, body) {
    const v = object(body);
    const service = label(v, 'service');
    const namespace = label(v, 'namespace');
    sameName(name, `${namespace}/${service}`);
    const consumers = strings(v, 'consumers', 256);
    if (consumers.length === 0)
      throw new InvalidArgumentError('consumers must not be empty', 'consumers');
    if (
      consumers.some((c) => c !== '*' && !isDnsLabel(c)) ||
      (consumers.includes('*') && consumers.length > 1)
    ) {
      throw new InvalidArgumentError('consumers must be zone names, or "*" alone', 'consumers');
    }
  },
  revocation(name, body) {
    const { serial } = revocationFields(object(body));
    sameName(name, serial);
  },
};

/**
 * {@link zoneResourceValidators} for what zone `zone` sends: a zone may revoke only leaves
 * it issued, so a `revocation` whose SPIFFE ID names another zone is refused (a NACK
 * naming it; global stores nothing of the delta).
 */
export function zoneResourceValidatorsFor(
  zone: string,
): Record<ZoneResourceType, ResourceValidator> {
  return {
    ...zoneResourceValidators,
    revocation(name, body) {
      zoneResourceValidators.revocation(name, body);
      const spiffeId = (body as Fields).spiffeId as string;
      if (parseSpiffeId(spiffeId).zone !== zone) {
        throw new InvalidArgumentError(
          `spiffeId ${spiffeId} is not of zone ${zone}: a zone revokes only leaves it issued`,
          'spiffeId',
        );
      }
    },
  };
}

/**
 * A global policy's Meta leaves room for the key a zone adds, and does not set it itself.
 *
 * @throws InvalidArgumentError naming `Meta`.
 */
export function checkPolicyMeta(meta: Record<string, string> | undefined): void {
  if (meta === undefined) return;
  if (Object.hasOwn(meta, POLICY_ORIGIN_META)) {
    throw new InvalidArgumentError(
      `Meta key ${JSON.stringify(POLICY_ORIGIN_META)} is reserved: zones set it on the global policies they apply`,
      'Meta',
    );
  }
  const count = Object.keys(meta).length;
  if (count > MAX_POLICY_META_KEYS) {
    throw new InvalidArgumentError(
      `Meta has ${count} keys; a global policy may have at most ${MAX_POLICY_META_KEYS} (zones add ${JSON.stringify(POLICY_ORIGIN_META)})`,
      'Meta',
    );
  }
}

/** Validators for what global sends a zone. */
export const globalResourceValidators: Record<GlobalResourceType, ResourceValidator> = {
  'remote-service'(name, body) {
    const v = object(body);
    const zone = label(v, 'zone');
    const namespace = label(v, 'namespace');
    const service = label(v, 'service');
    sameName(name, `${zone}/${namespace}/${service}`);
    oneOf(v, 'protocol', PROTOCOLS);
    const healthy = count(v, 'healthy');
    if (healthy > count(v, 'total'))
      throw new InvalidArgumentError('healthy must not exceed total', 'healthy');
  },
  'remote-gateway'(name, body) {
    const v = object(body);
    const zone = label(v, 'zone');
    gatewayFields(v);
    sameName(name, `${zone}/${v.name as string}`);
  },
  kv(name, body) {
    const v = object(body);
    if (typeof v.key !== 'string' || Buffer.byteLength(v.key) > MAX_KV_KEY_BYTES) {
      throw new InvalidArgumentError(
        `key must be a string of at most ${MAX_KV_KEY_BYTES} bytes`,
        'key',
      );
    }
    validateKey(v.key, 'key');
    if (name !== kvResourceName(v.key)) {
      throw new InvalidArgumentError('name must be the SHA-256 (hex) of key', 'name');
    }
    if (typeof v.value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v.value)) {
      throw new InvalidArgumentError('value must be base64', 'value');
    }
    if (Buffer.from(v.value, 'base64').length > MAX_VALUE_BYTES) {
      throw new InvalidArgumentError(`value is over ${MAX_VALUE_BYTES} bytes`, 'value');
    }
    count(v, 'flags');
    count(v, 'modifyIndex');
  },
  policy(name, body) {
    const v = object(body);
    oneOf(v, 'kind', GLOBAL_POLICY_KINDS);
    text(v, 'namespace', 256);
    text(v, 'name', 256);
    sameName(name, policyResourceName(v.kind as string, v.namespace as string, v.name as string));
    // The zone applies the entry as if it were PUT to its own /v1/config: the same checks.
    const entry = decodeConfigEntry(object(v.entry));
    if (entry.Kind !== v.kind || entry.Namespace !== v.namespace || entry.Name !== v.name) {
      throw new InvalidArgumentError(
        `entry is ${entry.Kind}/${entry.Namespace}/${entry.Name}, but the resource names ${name}`,
        'entry',
      );
    }
    checkPolicyMeta(entry.Meta);
  },
  'remote-revocation'(name, body) {
    const v = object(body);
    const zone = label(v, 'zone');
    const revoked = revocationFields(v);
    if (revoked.zone !== zone) {
      throw new InvalidArgumentError(
        `spiffeId is of zone ${revoked.zone}, but the revocation comes from zone ${zone}`,
        'spiffeId',
      );
    }
    sameName(name, remoteRevocationName(zone, revoked.serial));
  },
};

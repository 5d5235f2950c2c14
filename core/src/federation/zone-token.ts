/**
 * Zone tokens: what `causeway zone create` prints and a zone presents on its first sync
 * connection to the global control plane.
 *
 * `cwzt.<base64url(JSON payload)>.<base64url(ES256 signature)>`. The signature (ECDSA
 * P-256 with SHA-256, as JOSE's ES256: the raw 64-byte `r‖s`) covers the ASCII bytes of
 * `cwzt.<payload>`, so the prefix is bound too. Only the global verifies it, with its
 * token-signing key; a zone merely decodes the payload to learn the trust domain and the
 * root pin, which lets it check the global's TLS server before it has any other trust
 * anchor (kubeadm's `--discovery-token-ca-cert-hash` does the same).
 *
 * Decoding is strict: a payload with a missing, malformed or unknown field is refused,
 * naming the field. A new field means a new `v`.
 */
import { randomBytes, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { InvalidArgumentError, PermissionDeniedError } from '../errors.ts';
import { isDnsLabel, validateTrustDomain } from '../ca/spiffe.ts';

/** The prefix every zone token starts with. */
export const ZONE_TOKEN_PREFIX = 'cwzt';
/** Longer input is refused before it is parsed. */
export const MAX_ZONE_TOKEN_LENGTH = 4096;
export const ZONE_KINDS = ['kubernetes', 'universal'] as const;
export type ZoneKind = (typeof ZONE_KINDS)[number];

export interface ZoneTokenPayload {
  v: 1;
  /** The zone the token registers: a DNS label. */
  zone: string;
  kind: ZoneKind;
  /** The mesh's trust domain. */
  td: string;
  /** SHA-256 of the global root certificate's DER, lowercase hex (64 characters). */
  rootPin: string;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Expires at, seconds since the epoch; after `iat`. */
  exp: number;
  /** A random token id (base64url, 16 to 64 characters). */
  jti: string;
}

const FIELDS = ['v', 'zone', 'kind', 'td', 'rootPin', 'iat', 'exp', 'jti'] as const;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const ROOT_PIN = /^[0-9a-f]{64}$/;
const JTI = /^[A-Za-z0-9_-]{16,64}$/;
/** ES256 signatures are exactly 64 bytes: r and s, 32 bytes each. */
const SIGNATURE_BYTES = 64;

/** A fresh token id. */
export function newZoneTokenId(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * Check every field of a payload and return it typed.
 *
 * @param field - the input named in errors (`"token"` gives `"token.exp"`).
 * @throws InvalidArgumentError naming the offending field.
 */
export function validateZoneTokenPayload(value: unknown, field = 'payload'): ZoneTokenPayload {
  const bad = (name: string, why: string): never => {
    throw new InvalidArgumentError(`${field}.${name} ${why}`, `${field}.${name}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`${field} must be a JSON object`, field);
  }
  const p = value as Record<string, unknown>;
  for (const key of Object.keys(p)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      bad(key, `is not a zone token field (expected ${FIELDS.join(', ')})`);
    }
  }
  if (p.v !== 1) bad('v', `must be 1 (got ${JSON.stringify(p.v)})`);
  if (!isDnsLabel(p.zone)) {
    bad('zone', `must be a lowercase DNS label (got ${JSON.stringify(p.zone)})`);
  }
  if (!(ZONE_KINDS as readonly unknown[]).includes(p.kind)) {
    bad('kind', `must be "kubernetes" or "universal" (got ${JSON.stringify(p.kind)})`);
  }
  try {
    validateTrustDomain(p.td, `${field}.td`);
  } catch {
    bad('td', `must be a lowercase trust domain like "mesh.example" (got ${JSON.stringify(p.td)})`);
  }
  if (typeof p.rootPin !== 'string' || !ROOT_PIN.test(p.rootPin)) {
    bad('rootPin', 'must be 64 lowercase hex characters (SHA-256 of the root certificate)');
  }
  for (const name of ['iat', 'exp'] as const) {
    const t = p[name];
    if (typeof t !== 'number' || !Number.isSafeInteger(t) || t <= 0) {
      bad(name, `must be a positive whole number of seconds (got ${JSON.stringify(t)})`);
    }
  }
  if ((p.exp as number) <= (p.iat as number)) bad('exp', 'must be after iat');
  if (typeof p.jti !== 'string' || !JTI.test(p.jti)) {
    bad('jti', 'must be 16 to 64 base64url characters');
  }
  return p as unknown as ZoneTokenPayload;
}

/**
 * Sign `payload` (validated first) with the global's token-signing key (EC P-256).
 *
 * @throws InvalidArgumentError for a bad payload or a key that is not EC P-256.
 */
export function signZoneToken(payload: ZoneTokenPayload, privateKey: KeyObject): string {
  const checked = validateZoneTokenPayload(payload);
  requireP256(privateKey, 'privateKey');
  // Fields in a fixed order, so equal payloads give equal tokens.
  const ordered = Object.fromEntries(FIELDS.map((f) => [f, checked[f]]));
  const body = Buffer.from(JSON.stringify(ordered)).toString('base64url');
  const input = `${ZONE_TOKEN_PREFIX}.${body}`;
  const signature = sign('sha256', Buffer.from(input), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
}

interface TokenParts {
  input: string;
  payload: ZoneTokenPayload;
  signature: Buffer;
}

function splitToken(token: unknown, field: string): TokenParts {
  if (typeof token !== 'string') {
    throw new InvalidArgumentError(`${field} must be a string`, field);
  }
  const text = token.trim();
  if (text.length > MAX_ZONE_TOKEN_LENGTH) {
    throw new InvalidArgumentError(
      `${field} is ${text.length} characters; a zone token has at most ${MAX_ZONE_TOKEN_LENGTH}`,
      field,
    );
  }
  const parts = text.split('.');
  if (parts.length !== 3 || parts[0] !== ZONE_TOKEN_PREFIX) {
    throw new InvalidArgumentError(
      `${field} is not a zone token: expected ${ZONE_TOKEN_PREFIX}.<payload>.<signature> (make one with: causeway zone create <name>)`,
      field,
    );
  }
  const [, body = '', sig = ''] = parts;
  if (!BASE64URL.test(body) || !BASE64URL.test(sig)) {
    throw new InvalidArgumentError(`${field}: the payload and signature must be base64url`, field);
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidArgumentError(`${field}: the payload is not JSON`, field);
  }
  return {
    input: `${ZONE_TOKEN_PREFIX}.${body}`,
    payload: validateZoneTokenPayload(json, field),
    signature: Buffer.from(sig, 'base64url'),
  };
}

/**
 * Read a token's payload without checking its signature or expiry. Zones use it to learn
 * the trust domain and root pin; the global verifies the rest when the zone connects.
 *
 * @throws InvalidArgumentError naming `field` (or the bad payload field).
 */
export function decodeZoneToken(token: unknown, field = 'token'): ZoneTokenPayload {
  return splitToken(token, field).payload;
}

/**
 * Check a token: its shape, its signature under `publicKey`, and that it has not expired
 * at `now`. Whether the zone still exists, is enabled, or rotated its tokens is the
 * registry's business (global-control).
 *
 * @throws PermissionDeniedError saying what is wrong: malformed, bad signature, expired.
 */
export function verifyZoneToken(
  token: unknown,
  publicKey: KeyObject,
  now: Date = new Date(),
): ZoneTokenPayload {
  let parts: TokenParts;
  try {
    parts = splitToken(token, 'token');
  } catch (err) {
    throw new PermissionDeniedError(`zone token refused: ${(err as Error).message}`);
  }
  const ok =
    parts.signature.length === SIGNATURE_BYTES &&
    verify(
      'sha256',
      Buffer.from(parts.input),
      { key: publicKey, dsaEncoding: 'ieee-p1363' },
      parts.signature,
    );
  if (!ok) {
    throw new PermissionDeniedError(
      'zone token refused: bad signature (it was not issued by this global control plane, or was altered)',
    );
  }
  const { payload } = parts;
  if (now.getTime() >= payload.exp * 1000) {
    throw new PermissionDeniedError(
      `zone token for zone "${payload.zone}" expired at ${new Date(payload.exp * 1000).toISOString()}; issue a new one with: causeway zone token ${payload.zone}`,
    );
  }
  return payload;
}

function requireP256(key: KeyObject, field: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new InvalidArgumentError('zone tokens are signed with an EC P-256 key', field);
  }
}

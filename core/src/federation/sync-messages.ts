/**
 * Zone sync's messages (global ⇄ zone, JSON text frames over WebSocket on TLS). The zone
 * dials global and authenticates at the upgrade: with its zone token on the first
 * connection, with mutual TLS (its control identity) after that.
 *
 * zone → global: `hello` (who it is, a CSR when it needs its intermediate, and the last
 * revision it acknowledged of each global resource type), `insight`.
 * global → zone: `welcome` (the trust bundle, the intermediate when a CSR came, the
 * mesh's global KV prefixes, and the last revision global acknowledged of each zone
 * resource type).
 * Writes to global KV made at a zone: `kv-write` (zone → global) and `kv-written`
 * (global → zone); see `kv-messages.ts`.
 * Renewing the zone intermediate before it expires: `renew` (zone → global, a CSR, only
 * on a mutual-TLS connection whose intermediate is the newest global issued the zone) and
 * `renewed` (global → zone) or `error`.
 * Both ways: `delta` / `ack` / `nack` per resource type, `ping` / `pong`, `error`.
 *
 * A `delta` carries upserts and removals since the revision the receiver acknowledged
 * last, or, with `full: true`, the sender's whole set of that type: the receiver removes
 * what the set lacks, except names under `retain` prefixes (what the sender does not know
 * yet — see the global's sender). Every delta has a fresh nonce; an ACK names the nonce
 * and revision it applied, a NACK the resource it refused and why, and the receiver keeps
 * what it had. Everything is checked against its shape before anything acts on it.
 */
import { isDnsLabel } from '../ca/spiffe.ts';
import { InvalidArgumentError, toErrorBody } from '../errors.ts';
import { decodeKvWrite, decodeKvWritten } from './kv-messages.ts';
import type { KvWriteMessage, KvWrittenMessage } from './kv-messages.ts';
import { validateGlobalKvPrefixes } from './kv-scopes.ts';
import { GLOBAL_RESOURCE_TYPES, ZONE_RESOURCE_TYPES } from './resources.ts';
import type { GlobalResourceType, ResourceType, ZoneResourceType } from './resources.ts';
import type { ZoneInsight } from './sync-status.ts';

export const SYNC_PROTOCOL_VERSION = 1;
/** Largest frame either side accepts; a delta bigger than this is split by the sender. */
export const MAX_SYNC_FRAME_BYTES = 8 * 1024 * 1024;
/** Largest resource body (as JSON); the error names the resource. */
export const MAX_RESOURCE_BYTES = 256 * 1024;
/** A `kv` resource carries a value of up to 512 KiB as base64, so it may be larger. */
export const MAX_KV_RESOURCE_BYTES = 1024 * 1024;

/** The body limit for one resource of `type`. */
export function maxResourceBytes(type: ResourceType): number {
  return type === 'kv' ? MAX_KV_RESOURCE_BYTES : MAX_RESOURCE_BYTES;
}
/** Resource names are store key segments: bounded, printable, no empty segments. */
export const MAX_RESOURCE_NAME_BYTES = 512;
/** Upserts plus removals per delta; the sender splits larger changes. */
export const MAX_DELTA_ITEMS = 2_000;

export interface ResourceItem {
  name: string;
  /** Changes whenever the body does (a hash of it): receivers skip unchanged writes. */
  version: string;
  body: unknown;
}

export interface DeltaMessage<T extends ResourceType = ResourceType> {
  type: 'delta';
  resourceType: T;
  nonce: string;
  /** The sender's revision of this type once the receiver applies this delta. */
  revision: string;
  /** The revision this delta is relative to; '' when `full`. */
  baseRevision: string;
  /** This is the sender's whole set of the type (the receiver removes what it lacks). */
  full: boolean;
  /** With `full`: name prefixes the receiver keeps even when absent from the set. */
  retain: string[];
  /**
   * More deltas of the same revision follow (a change too big for one frame): the
   * receiver applies them all before acknowledging the last.
   */
  more: boolean;
  /**
   * This frame's place among the frames of its revision (0 first). A receiver applies a
   * chunk only right after the one before it, so a refused or lost chunk can never let a
   * later one of a full set pass as the whole set.
   */
  chunk: number;
  upserts: ResourceItem[];
  removes: string[];
}

export interface AckMessage {
  type: 'ack';
  resourceType: ResourceType;
  nonce: string;
  revision: string;
}

export interface NackMessage {
  type: 'nack';
  resourceType: ResourceType;
  nonce: string;
  /** The resource the receiver refused, when one was at fault. */
  resource?: string;
  message: string;
}

export interface PingMessage {
  type: 'ping' | 'pong';
  /** Sender's clock, ms since the epoch (for one-way lag estimates only). */
  at: number;
}

export interface SyncErrorMessage {
  type: 'error';
  code: string;
  message: string;
  field?: string;
}

/** Revisions the receiver has applied, by resource type, for resuming. */
export type ResumeRevisions = Partial<Record<ResourceType, string>>;

export interface ZoneHello {
  type: 'hello';
  protocol: number;
  zone: string;
  /** The zone control plane's Causeway version. */
  version: string;
  /** A CSR for `spiffe://<td>/zone/<zone>/control`: asks global for the zone intermediate. */
  csr?: string;
  resume: Partial<Record<GlobalResourceType, string>>;
  /**
   * The global types this zone takes. Global sends only those, so zones and global of
   * different versions sync what both know. An older zone sends none: the decoder then
   * gives the types zone sync had before this field.
   */
  accepts?: GlobalResourceType[];
}

export interface InsightMessage {
  type: 'insight';
  insight: ZoneInsight;
}

export interface GlobalWelcome {
  type: 'welcome';
  protocol: number;
  zone: string;
  trustDomain: string;
  /** The trust bundle (PEM roots). */
  roots: string[];
  /** The zone intermediate signed from the hello's CSR (only when a CSR came). */
  intermediatePem?: string;
  /** How often each side pings; a peer silent for 3× this is gone. */
  heartbeatMs: number;
  /** KV prefixes global owns (see `kv-scopes.ts`); every other key is the zone's. */
  kvGlobalPrefixes: string[];
  resume: Partial<Record<ZoneResourceType, string>>;
  /** The zone types global takes (see {@link ZoneHello.accepts}). */
  accepts?: ZoneResourceType[];
  /** Global answers `renew` frames (an older global closes the connection on one). */
  renews?: boolean;
}

/**
 * zone → global: sign a new zone intermediate from this CSR (for the zone's control
 * identity), replacing the one this connection authenticated with.
 */
export interface RenewMessage {
  type: 'renew';
  csr: string;
}

/** global → zone: the zone intermediate signed from a `renew` CSR. */
export interface RenewedMessage {
  type: 'renewed';
  intermediatePem: string;
}

export type CommonMessage =
  DeltaMessage | AckMessage | NackMessage | PingMessage | SyncErrorMessage;
export type ZoneToGlobal =
  ZoneHello | InsightMessage | KvWriteMessage | RenewMessage | CommonMessage;
export type GlobalToZone = GlobalWelcome | KvWrittenMessage | RenewedMessage | CommonMessage;

/** A zone's frame as global reads it. */
export function decodeZoneFrame(frame: string): ZoneToGlobal {
  const value = parseFrame(frame);
  switch (value.type) {
    case 'hello':
      return decodeHello(value);
    case 'insight':
      return { type: 'insight', insight: decodeInsight(value.insight) };
    case 'kv-write':
      return decodeKvWrite(value);
    case 'renew':
      return { type: 'renew', csr: nonEmpty(value.csr, 'csr', 16 * 1024) };
    default:
      return decodeCommon(value, ZONE_RESOURCE_TYPES, GLOBAL_RESOURCE_TYPES);
  }
}

/** Global's frame as a zone reads it. */
export function decodeGlobalFrame(frame: string): GlobalToZone {
  const value = parseFrame(frame);
  if (value.type === 'welcome') return decodeWelcome(value);
  if (value.type === 'kv-written') return decodeKvWritten(value);
  if (value.type === 'renewed') {
    return {
      type: 'renewed',
      intermediatePem: nonEmpty(value.intermediatePem, 'intermediatePem', 64 * 1024),
    };
  }
  return decodeCommon(value, GLOBAL_RESOURCE_TYPES, ZONE_RESOURCE_TYPES);
}

/** The `error` frame for a failure, in the API's error shape. */
export function syncErrorFrame(err: unknown): SyncErrorMessage {
  const { error } = toErrorBody(err);
  return { type: 'error', code: error.code, message: error.message, field: error.field };
}

type Fields = Record<string, unknown>;

function parseFrame(frame: string): Fields {
  if (Buffer.byteLength(frame) > MAX_SYNC_FRAME_BYTES) {
    throw new InvalidArgumentError(
      `frame is ${Buffer.byteLength(frame)} bytes, over the ${MAX_SYNC_FRAME_BYTES}-byte limit`,
      'frame',
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    throw new InvalidArgumentError('frame is not JSON', 'frame');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError('frame must be a JSON object', 'frame');
  }
  const fields = value as Fields;
  if (typeof fields.type !== 'string') {
    throw new InvalidArgumentError('frame needs a string "type"', 'type');
  }
  return fields;
}

/**
 * `inbound`: types this side receives in deltas (and ACKs for the other direction's
 * types arrive as `outbound`).
 */
function decodeCommon<In extends ResourceType, Out extends ResourceType>(
  v: Fields,
  inbound: readonly In[],
  outbound: readonly Out[],
): CommonMessage {
  switch (v.type) {
    case 'delta':
      return decodeDelta(v, inbound);
    case 'ack':
      return {
        type: 'ack',
        resourceType: oneOf(v.resourceType, outbound, 'resourceType'),
        nonce: nonEmpty(v.nonce, 'nonce', 128),
        revision: nonEmpty(v.revision, 'revision', 128),
      };
    case 'nack':
      return {
        type: 'nack',
        resourceType: oneOf(v.resourceType, outbound, 'resourceType'),
        nonce: nonEmpty(v.nonce, 'nonce', 128),
        ...(v.resource === undefined ? {} : { resource: nonEmpty(v.resource, 'resource', 1024) }),
        message: nonEmpty(v.message, 'message', 4096),
      };
    case 'ping':
    case 'pong':
      return { type: v.type, at: count(v.at, 'at') };
    case 'error':
      return {
        type: 'error',
        code: nonEmpty(v.code, 'code', 128),
        message: nonEmpty(v.message, 'message', 4096),
        ...(typeof v.field === 'string' ? { field: v.field.slice(0, 256) } : {}),
      };
    default:
      throw new InvalidArgumentError(
        `unknown frame type ${JSON.stringify(String(v.type).slice(0, 40))}`,
        'type',
      );
  }
}

function decodeDelta<T extends ResourceType>(v: Fields, types: readonly T[]): DeltaMessage<T> {
  const resourceType = oneOf(v.resourceType, types, 'resourceType');
  const full = bool(v.full, 'full');
  const upserts = list(v.upserts, 'upserts');
  const removes = list(v.removes, 'removes');
  if (upserts.length + removes.length > MAX_DELTA_ITEMS) {
    throw new InvalidArgumentError(
      `a delta carries at most ${MAX_DELTA_ITEMS} upserts and removals (got ${upserts.length + removes.length})`,
      'upserts',
    );
  }
  const seen = new Set<string>();
  const items = upserts.map((raw, i): ResourceItem => {
    const field = `upserts[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new InvalidArgumentError(`${field} must be an object`, field);
    }
    const item = raw as Fields;
    const name = resourceName(item.name, `${field}.name`);
    if (seen.has(name)) {
      throw new InvalidArgumentError(`${resourceType} ${name} appears twice`, `${field}.name`);
    }
    seen.add(name);
    const size = Buffer.byteLength(JSON.stringify(item.body ?? null));
    if (item.body === undefined || item.body === null) {
      throw new InvalidArgumentError(`${resourceType} ${name} has no body`, `${field}.body`);
    }
    const limit = maxResourceBytes(resourceType);
    if (size > limit) {
      throw new InvalidArgumentError(
        `${resourceType} ${name} is ${size} bytes, over the ${limit}-byte limit for one resource`,
        `${field}.body`,
      );
    }
    return { name, version: nonEmpty(item.version, `${field}.version`, 128), body: item.body };
  });
  return {
    type: 'delta',
    resourceType,
    nonce: nonEmpty(v.nonce, 'nonce', 128),
    revision: nonEmpty(v.revision, 'revision', 128),
    baseRevision: full ? '' : nonEmpty(v.baseRevision, 'baseRevision', 128),
    full,
    retain: full && v.retain !== undefined ? list(v.retain, 'retain').map(prefixString) : [],
    more: v.more === undefined ? false : bool(v.more, 'more'),
    chunk: v.chunk === undefined ? 0 : count(v.chunk, 'chunk'),
    upserts: items,
    removes: removes.map((name, i) => {
      const checked = resourceName(name, `removes[${i}]`);
      if (seen.has(checked)) {
        throw new InvalidArgumentError(
          `${resourceType} ${checked} is both upserted and removed`,
          `removes[${i}]`,
        );
      }
      return checked;
    }),
  };
}

function decodeHello(v: Fields): ZoneHello {
  if (v.protocol !== SYNC_PROTOCOL_VERSION) {
    throw new InvalidArgumentError(
      `unsupported sync protocol ${JSON.stringify(v.protocol)}; this control plane speaks ${SYNC_PROTOCOL_VERSION}`,
      'protocol',
    );
  }
  return {
    type: 'hello',
    protocol: SYNC_PROTOCOL_VERSION,
    zone: label(v.zone, 'zone'),
    version: nonEmpty(v.version, 'version', 64),
    ...(v.csr === undefined ? {} : { csr: nonEmpty(v.csr, 'csr', 16 * 1024) }),
    resume: revisions(v.resume, GLOBAL_RESOURCE_TYPES),
    accepts:
      v.accepts === undefined
        ? [...FIRST_GLOBAL_TYPES]
        : accepted(v.accepts, GLOBAL_RESOURCE_TYPES),
  };
}

function decodeWelcome(v: Fields): GlobalWelcome {
  if (v.protocol !== SYNC_PROTOCOL_VERSION) {
    throw new InvalidArgumentError(
      `unsupported sync protocol ${JSON.stringify(v.protocol)}; this zone speaks ${SYNC_PROTOCOL_VERSION}`,
      'protocol',
    );
  }
  const roots = list(v.roots, 'roots').map((r, i) => nonEmpty(r, `roots[${i}]`, 64 * 1024));
  if (roots.length === 0) throw new InvalidArgumentError('roots must not be empty', 'roots');
  const heartbeatMs = count(v.heartbeatMs, 'heartbeatMs');
  if (heartbeatMs < 100) throw new InvalidArgumentError('heartbeatMs must be ≥ 100', 'heartbeatMs');
  return {
    type: 'welcome',
    protocol: SYNC_PROTOCOL_VERSION,
    zone: label(v.zone, 'zone'),
    trustDomain: nonEmpty(v.trustDomain, 'trustDomain', 255),
    roots,
    ...(v.intermediatePem === undefined
      ? {}
      : { intermediatePem: nonEmpty(v.intermediatePem, 'intermediatePem', 64 * 1024) }),
    heartbeatMs,
    kvGlobalPrefixes:
      v.kvGlobalPrefixes === undefined
        ? []
        : validateGlobalKvPrefixes(v.kvGlobalPrefixes, 'kvGlobalPrefixes'),
    resume: revisions(v.resume, ZONE_RESOURCE_TYPES),
    accepts:
      v.accepts === undefined ? [...FIRST_ZONE_TYPES] : accepted(v.accepts, ZONE_RESOURCE_TYPES),
    ...(v.renews === undefined ? {} : { renews: bool(v.renews, 'renews') }),
  };
}

/**
 * What a peer that sends no `accepts` takes: the types zone sync had before `accepts`
 * existed (such a peer refuses any other type and closes the connection).
 */
const FIRST_GLOBAL_TYPES: readonly GlobalResourceType[] = [
  'remote-service',
  'remote-gateway',
  'kv',
  'policy',
];
const FIRST_ZONE_TYPES: readonly ZoneResourceType[] = ['instance', 'gateway', 'export'];

/** The types a peer says it takes, keeping the ones this side knows (a newer peer knows more). */
function accepted<T extends ResourceType>(value: unknown, types: readonly T[]): T[] {
  const names = list(value, 'accepts');
  if (names.length > 64) throw new InvalidArgumentError('accepts lists too many types', 'accepts');
  return names.filter(
    (n): n is T => typeof n === 'string' && (types as readonly string[]).includes(n),
  );
}

function decodeInsight(value: unknown): ZoneInsight {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError('insight must be an object', 'insight');
  }
  const v = value as Fields;
  const counts: Record<string, number> = {};
  if (typeof v.counts !== 'object' || v.counts === null || Array.isArray(v.counts)) {
    throw new InvalidArgumentError('insight.counts must be an object', 'insight.counts');
  }
  const entries = Object.entries(v.counts as Fields);
  if (entries.length > 32) {
    throw new InvalidArgumentError('insight.counts has too many entries', 'insight.counts');
  }
  for (const [k, n] of entries) counts[k.slice(0, 64)] = count(n, `insight.counts.${k}`);
  return {
    version: nonEmpty(v.version, 'insight.version', 64),
    counts,
    proxies: count(v.proxies, 'insight.proxies'),
    ...(typeof v.lastAckAt === 'string' ? { lastAckAt: v.lastAckAt.slice(0, 40) } : {}),
    ...(v.applyLagMs === undefined
      ? {}
      : { applyLagMs: count(v.applyLagMs, 'insight.applyLagMs') }),
  };
}

function revisions<T extends ResourceType>(
  value: unknown,
  types: readonly T[],
): Partial<Record<T, string>> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError('resume must be an object of revisions by type', 'resume');
  }
  const out: Partial<Record<T, string>> = {};
  for (const [type, revision] of Object.entries(value as Fields)) {
    const checked = nonEmpty(revision, `resume.${type.slice(0, 40)}`, 128);
    // A newer peer may hold types this side does not know: nothing to resume of those.
    if ((types as readonly string[]).includes(type)) out[type as T] = checked;
  }
  return out;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(
      `${field} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`,
      field,
    );
  }
  return value as T;
}

function nonEmpty(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(`${field} must be a non-empty string`, field);
  }
  if (value.length > max) {
    throw new InvalidArgumentError(`${field} is longer than ${max} characters`, field);
  }
  return value;
}

function label(value: unknown, field: string): string {
  if (!isDnsLabel(value)) {
    throw new InvalidArgumentError(`${field} must be a lowercase DNS label`, field);
  }
  return value;
}

function bool(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean')
    throw new InvalidArgumentError(`${field} must be a boolean`, field);
  return value;
}

function count(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new InvalidArgumentError(`${field} must be a non-negative integer`, field);
  }
  return value as number;
}

function list(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new InvalidArgumentError(`${field} must be a list`, field);
  return value;
}

const NAME_PATTERN = /^[\x21-\x7e]+$/;

/** Names become store key suffixes: printable ASCII, no empty or dot segments. */
export function resourceName(value: unknown, field: string): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    Buffer.byteLength(value) > MAX_RESOURCE_NAME_BYTES ||
    !NAME_PATTERN.test(value) ||
    value.split('/').some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw new InvalidArgumentError(
      `${field} must be 1-${MAX_RESOURCE_NAME_BYTES} printable characters in non-empty "/"-separated segments (got ${JSON.stringify(String(value).slice(0, 80))})`,
      field,
    );
  }
  return value;
}

function prefixString(value: unknown, i: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_RESOURCE_NAME_BYTES) {
    throw new InvalidArgumentError(`retain[${i}] must be a non-empty name prefix`, `retain[${i}]`);
  }
  return value;
}

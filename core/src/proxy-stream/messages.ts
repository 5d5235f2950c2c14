/**
 * The proxy config stream's messages (zone ⇄ proxy, JSON text frames over WebSocket).
 * The proxy authenticates at the upgrade (`Authorization: Bearer <dataplane token>`), so
 * every frame here comes from a known caller; still, every frame is checked against its
 * shape before anything acts on it, and a bad one is refused with an `error` frame naming
 * the field.
 *
 * proxy → zone:
 * - `hello`: who this instance is (service, instance, upstreams) and a CSR for its leaf;
 * - `csr`: a renewal;
 * - `ack` / `nack`: the proxy applied (or refused, with a reason) a pushed `config`,
 *   `bundle` or `leaf`, named by its kind, version and nonce;
 * - `health`: the result of the proxy's check of its local app (it becomes the instance's
 *   health check in the catalog);
 * - `leave`: the instance is shutting down; the zone deregisters it at once instead of
 *   waiting for its connection check to expire.
 *
 * zone → proxy: `leaf`, `bundle` (roots + revoked serials), `config` (a versioned
 * snapshot), `error`. Every push carries a version and a fresh nonce: an ACK for an old
 * nonce says nothing about the newest push (xDS's rule).
 */
import {
  validateAddress,
  validateMeta,
  validateName,
  validateStatus,
  validateTags,
} from '../catalog/validate.ts';
import { isDnsLabel } from '../ca/spiffe.ts';
import { InvalidArgumentError, toErrorBody } from '../errors.ts';

export const PROTOCOL_VERSION = 1;
/** Largest frame either side accepts; config snapshots of big meshes stay well under. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

export type PushKind = 'config' | 'bundle' | 'leaf';

export interface Upstream {
  service: string;
  namespace: string;
  /** The 127.0.0.1 port the proxy listens on for this upstream. */
  localPort: number;
  /**
   * Reach only the service's instances in this zone (`--upstream api@west:9002`, like
   * Consul's upstream `Datacenter`): no other zone, no failover. Undefined: every zone
   * the service's resolver allows, the local one first.
   */
  zone?: string;
}

/** Longest outbound listener name: listener names are DNS labels. */
const MAX_LISTENER_NAME = 63;

/**
 * The outbound listener an upstream gets in the snapshot: its service name, or
 * `<service>--<zone>` when pinned to a zone (a DNS label, as listener names must be; a
 * double hyphen, because service names like `api-west` are common in multi-zone meshes).
 */
export function upstreamListenerName(u: Pick<Upstream, 'service' | 'zone'>): string {
  return u.zone === undefined ? u.service : `${u.service}--${u.zone}`;
}

/**
 * {@link upstreamListenerName}, refusing a pinned upstream whose name would be too long
 * for a DNS label. The proxy checks its `--upstream` flags with this too, so the zone
 * never refuses what it sent. @throws InvalidArgumentError naming `<field>.zone`
 */
export function checkedListenerName(u: Pick<Upstream, 'service' | 'zone'>, field: string): string {
  const listener = upstreamListenerName(u);
  if (listener.length > MAX_LISTENER_NAME) {
    throw new InvalidArgumentError(
      `${field}: the listener for ${u.service}@${u.zone} would be named ${listener}, ` +
        `${listener.length} characters; service and zone may have ${MAX_LISTENER_NAME - 2} together`,
      `${field}.zone`,
    );
  }
  return listener;
}

export interface HelloMessage {
  type: 'hello';
  protocol: number;
  service: string;
  namespace: string;
  /** Unique per proxy instance (catalog service ID). */
  instanceId: string;
  /** Where peers reach this instance's inbound listener. */
  address: string;
  port: number;
  upstreams: Upstream[];
  csr: string;
  /** What the local app speaks; picks L4 or L7 handling on the inbound side. */
  appProtocol: 'tcp' | 'http';
  /** The catalog node the instance is registered on (a VM's host name). */
  node: string;
  /** Catalog meta, e.g. `version` for weighted splits by version. */
  meta: Record<string, string>;
  tags: string[];
  /** The proxy's admin port, recorded in the catalog (`proxy.admin`). */
  adminPort?: number;
}

export interface HealthMessage {
  type: 'health';
  status: 'passing' | 'warning' | 'critical';
  output: string;
}

export interface LeaveMessage {
  type: 'leave';
}

export interface CsrMessage {
  type: 'csr';
  csr: string;
}

export interface AckMessage {
  type: 'ack';
  kind: PushKind;
  version: number;
  nonce: string;
}

export interface NackMessage {
  type: 'nack';
  kind: PushKind;
  version: number;
  nonce: string;
  reason: string;
}

export type ProxyMessage =
  HelloMessage | CsrMessage | AckMessage | NackMessage | HealthMessage | LeaveMessage;

export interface LeafPush {
  type: 'leaf';
  version: number;
  nonce: string;
  certificatePem: string;
  chainPem: string;
  issuedAt: string;
  notAfter: string;
}

export interface BundlePush {
  type: 'bundle';
  version: number;
  nonce: string;
  roots: string[];
  revokedSerials: string[];
}

export interface ConfigPush {
  type: 'config';
  version: number;
  nonce: string;
  /** The proxy's config snapshot; its own model validates it. */
  snapshot: Record<string, unknown>;
}

export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
  field?: string;
}

export type ZoneMessage = LeafPush | BundlePush | ConfigPush | ErrorMessage;

const PUSH_KINDS: readonly PushKind[] = ['config', 'bundle', 'leaf'];
const MAX_REASON = 4096;
const MAX_UPSTREAMS = 1024;
/** Longest tag a hello may carry (Consul has no limit; a 100 kB tag is not a label). */
export const MAX_TAG_LENGTH = 256;
/** Most tags a hello may carry. */
export const MAX_TAGS = 64;
const MAX_NODE_LENGTH = 128;

/** Parse and check a frame a proxy sent. @throws InvalidArgumentError naming the field. */
export function decodeProxyMessage(frame: string | Buffer): ProxyMessage {
  const m = parseFrame(frame);
  switch (m.type) {
    case 'hello':
      return decodeHello(m);
    case 'csr':
      return { type: 'csr', csr: text(m, 'csr', 64 * 1024) };
    case 'ack':
      return { type: 'ack', ...pushRef(m) };
    case 'nack':
      return { type: 'nack', ...pushRef(m), reason: text(m, 'reason', MAX_REASON) };
    case 'health': {
      const status = validateStatus(m.status, 'status');
      const output = m.output ?? '';
      if (typeof output !== 'string' || output.length > MAX_REASON) {
        throw new InvalidArgumentError(
          `output must be a string of at most ${MAX_REASON} characters`,
          'output',
        );
      }
      return { type: 'health', status, output };
    }
    case 'leave':
      return { type: 'leave' };
    default:
      throw unknownType(m.type, ['hello', 'csr', 'ack', 'nack', 'health', 'leave']);
  }
}

/** Parse and check a frame the zone sent. @throws InvalidArgumentError naming the field. */
export function decodeZoneMessage(frame: string | Buffer): ZoneMessage {
  const m = parseFrame(frame);
  switch (m.type) {
    case 'leaf':
      return {
        type: 'leaf',
        ...versioned(m),
        certificatePem: text(m, 'certificatePem', 64 * 1024),
        chainPem: text(m, 'chainPem', 256 * 1024),
        issuedAt: timestamp(m, 'issuedAt'),
        notAfter: timestamp(m, 'notAfter'),
      };
    case 'bundle':
      return {
        type: 'bundle',
        ...versioned(m),
        roots: textList(m, 'roots', 1, 64),
        revokedSerials: textList(m, 'revokedSerials', 0, 1_000_000).map((s, i) => {
          if (!/^[0-9a-f]{1,64}$/.test(s)) {
            throw new InvalidArgumentError(
              `revokedSerials[${i}] must be lowercase hex`,
              `revokedSerials[${i}]`,
            );
          }
          return s;
        }),
      };
    case 'config': {
      const snapshot = m.snapshot;
      if (typeof snapshot !== 'object' || snapshot === null || Array.isArray(snapshot)) {
        throw new InvalidArgumentError('snapshot must be an object', 'snapshot');
      }
      return { type: 'config', ...versioned(m), snapshot: snapshot as Record<string, unknown> };
    }
    case 'error': {
      const field = m.field;
      if (field !== undefined && typeof field !== 'string') {
        throw new InvalidArgumentError('field must be a string', 'field');
      }
      return {
        type: 'error',
        code: text(m, 'code', 64),
        message: text(m, 'message', MAX_REASON),
        ...(field !== undefined ? { field } : {}),
      };
    }
    default:
      throw unknownType(m.type, ['leaf', 'bundle', 'config', 'error']);
  }
}

/**
 * A frame's text, whatever shape the WebSocket library delivered it in (ws's `RawData`:
 * one buffer, an ArrayBuffer, or fragments).
 */
export function frameText(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** The `error` frame for a refused message: the same code and message an API would give. */
export function errorFrame(err: unknown): ErrorMessage {
  return { type: 'error', ...toErrorBody(err).error };
}

type Fields = Record<string, unknown> & { type: unknown };

function parseFrame(frame: string | Buffer): Fields {
  const size = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length;
  if (size > MAX_FRAME_BYTES) {
    throw new InvalidArgumentError(
      `frame is ${size} bytes; the limit is ${MAX_FRAME_BYTES}`,
      'frame',
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(frame.toString());
  } catch (err) {
    throw new InvalidArgumentError(`frame is not JSON: ${(err as Error).message}`, 'frame');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError('frame must be a JSON object', 'frame');
  }
  const fields = value as Fields;
  if (typeof fields.type !== 'string') {
    throw new InvalidArgumentError('type is required and must be a string', 'type');
  }
  return fields;
}

function decodeHello(m: Fields): HelloMessage {
  if (m.protocol !== PROTOCOL_VERSION) {
    throw new InvalidArgumentError(
      `protocol ${JSON.stringify(m.protocol)} is not supported; this zone speaks ${PROTOCOL_VERSION}`,
      'protocol',
    );
  }
  const rawUpstreams = m.upstreams ?? [];
  if (!Array.isArray(rawUpstreams) || rawUpstreams.length > MAX_UPSTREAMS) {
    throw new InvalidArgumentError(
      `upstreams must be a list of at most ${MAX_UPSTREAMS}`,
      'upstreams',
    );
  }
  const seenPorts = new Set<number>();
  const seenListeners = new Map<string, number>();
  const upstreams = rawUpstreams.map((u: unknown, i): Upstream => {
    const at = `upstreams[${i}]`;
    if (typeof u !== 'object' || u === null) {
      throw new InvalidArgumentError(`${at} must be an object`, at);
    }
    const f = u as Record<string, unknown>;
    const localPort = port(f.localPort, `${at}.localPort`);
    if (seenPorts.has(localPort)) {
      throw new InvalidArgumentError(
        `${at}.localPort ${localPort} is used by another upstream`,
        `${at}.localPort`,
      );
    }
    seenPorts.add(localPort);
    const service = name(f.service, `${at}.service`);
    const zone = f.zone === undefined ? undefined : name(f.zone, `${at}.zone`);
    const listener = checkedListenerName({ service, zone }, at);
    // An upstream's listener is named after its service and pinned zone (a DNS label, so
    // no room for the namespace): the same service twice, even in two namespaces, would be
    // two listeners of one name, which no snapshot can hold. `api` and `api@west` are two.
    const other = seenListeners.get(listener);
    if (other !== undefined) {
      throw new InvalidArgumentError(
        `${at}.service ${service}${zone === undefined ? '' : `@${zone}`} is already ` +
          `upstreams[${other}] (listener ${listener}); one upstream per service name and zone`,
        `${at}.service`,
      );
    }
    seenListeners.set(listener, i);
    const upstream: Upstream = {
      service,
      namespace: name(f.namespace ?? 'default', `${at}.namespace`),
      localPort,
    };
    if (zone !== undefined) upstream.zone = zone;
    return upstream;
  });
  const instanceId = text(m, 'instanceId', 128);
  if (!/^[A-Za-z0-9._:-]+$/.test(instanceId)) {
    throw new InvalidArgumentError(
      'instanceId may hold letters, digits and . _ : - only',
      'instanceId',
    );
  }
  const appProtocol = m.appProtocol ?? 'tcp';
  if (appProtocol !== 'tcp' && appProtocol !== 'http') {
    throw new InvalidArgumentError('appProtocol must be tcp or http', 'appProtocol');
  }
  const hello: HelloMessage = {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    service: name(m.service, 'service'),
    namespace: name(m.namespace ?? 'default', 'namespace'),
    instanceId,
    // The catalog's rules, checked here so the refusal names the hello's field.
    address: validateAddress(text(m, 'address', 255), 'address'),
    port: port(m.port, 'port'),
    upstreams,
    csr: text(m, 'csr', 64 * 1024),
    appProtocol,
    node: validateName(
      m.node === undefined ? instanceId : text(m, 'node', MAX_NODE_LENGTH),
      'node',
    ),
    meta: m.meta === undefined ? {} : { ...validateMeta(m.meta, 'meta') },
    tags: m.tags === undefined ? [] : validateHelloTags(m.tags, 'tags'),
  };
  if (m.adminPort !== undefined) hello.adminPort = port(m.adminPort, 'adminPort');
  return hello;
}

/**
 * A hello's tags: the catalog's rule (a list of strings) within the hello's limits. The
 * proxy checks its `--tag` flags with this too, so the zone never refuses what it sent.
 */
export function validateHelloTags(value: unknown, field: string): string[] {
  const tags = validateTags(value, field);
  if (tags.length > MAX_TAGS) {
    throw new InvalidArgumentError(`${field} may hold at most ${MAX_TAGS} tags`, field);
  }
  tags.forEach((tag, i) => {
    if (tag.length > MAX_TAG_LENGTH) {
      throw new InvalidArgumentError(
        `${field}[${i}] is ${tag.length} characters; the limit is ${MAX_TAG_LENGTH}`,
        `${field}[${i}]`,
      );
    }
  });
  return [...tags];
}

function pushRef(m: Fields): { kind: PushKind; version: number; nonce: string } {
  const kind = m.kind;
  if (!PUSH_KINDS.includes(kind as PushKind)) {
    throw new InvalidArgumentError(`kind must be one of ${PUSH_KINDS.join(', ')}`, 'kind');
  }
  return { kind: kind as PushKind, ...versioned(m) };
}

function versioned(m: Fields): { version: number; nonce: string } {
  const version = m.version;
  if (!Number.isSafeInteger(version) || (version as number) < 1) {
    throw new InvalidArgumentError('version must be a positive integer', 'version');
  }
  return { version: version as number, nonce: text(m, 'nonce', 64) };
}

function text(m: Record<string, unknown>, field: string, max: number): string {
  const v = m[field];
  if (typeof v !== 'string' || v.length === 0) {
    throw new InvalidArgumentError(`${field} is required and must be a non-empty string`, field);
  }
  if (v.length > max) {
    throw new InvalidArgumentError(
      `${field} is ${v.length} characters; the limit is ${max}`,
      field,
    );
  }
  return v;
}

function textList(m: Fields, field: string, min: number, max: number): string[] {
  const v = m[field];
  if (
    !Array.isArray(v) ||
    v.length < min ||
    v.length > max ||
    v.some((s) => typeof s !== 'string')
  ) {
    throw new InvalidArgumentError(`${field} must be a list of ${min} to ${max} strings`, field);
  }
  return v as string[];
}

function timestamp(m: Fields, field: string): string {
  const v = text(m, field, 64);
  if (Number.isNaN(Date.parse(v))) {
    throw new InvalidArgumentError(`${field} must be an RFC 3339 time`, field);
  }
  return v;
}

function name(v: unknown, field: string): string {
  if (!isDnsLabel(v)) {
    throw new InvalidArgumentError(
      `${field} must be a lowercase DNS label (got ${JSON.stringify(v)})`,
      field,
    );
  }
  return v;
}

function port(v: unknown, field: string): number {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 65535) {
    throw new InvalidArgumentError(`${field} must be a port number 1-65535`, field);
  }
  return v as number;
}

function unknownType(type: unknown, known: readonly string[]): InvalidArgumentError {
  return new InvalidArgumentError(
    `unknown message type ${JSON.stringify(type)}; expected one of ${known.join(', ')}`,
    'type',
  );
}

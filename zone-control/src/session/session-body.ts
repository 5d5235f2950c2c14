/**
 * The body of `PUT /v1/session/create`, read the way Consul reads it: optional, JSON
 * field names matched case-insensitively (Go's decoder), unknown fields ignored, Consul's
 * defaults (`LockDelay` 15s, `Behavior` release, `NodeChecks` ["serfHealth"]) and its
 * validation messages.
 */
import { InvalidArgumentError } from '../../../core/index.ts';
import { formatGoDurationNs, parseGoDurationNs } from '../http/go-duration.ts';
import type { ServiceCheckRef, SessionBehavior, SessionRecord } from './session-record.ts';
import { MAX_LOCK_DELAY_MS } from './lock-delay.ts';

/** Consul's default lock-delay. */
export const DEFAULT_LOCK_DELAY_NS = 15e9;
/** Consul's `session_ttl_min` default and `SessionTTLMax`. */
export const SESSION_TTL_MIN_NS = 10e9;
export const SESSION_TTL_MAX_NS = 24 * 3600e9;
/** Go's `time.Duration` unit confusion guard: numbers below this are taken as seconds. */
const LOCK_DELAY_MIN_THRESHOLD = 1000;
const SERF_HEALTH = 'serfHealth';

export type SessionSpec = Omit<SessionRecord, 'ID' | 'ExpiresAt' | 'Invalidating'>;

function decodeFailed(message: string, field: string): InvalidArgumentError {
  return new InvalidArgumentError(`Request decode failed: ${message}`, field);
}

/** Field lookup by lower-cased name, as Go's `encoding/json` matches struct fields. */
function fieldsOf(body: Record<string, unknown>): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  for (const [k, v] of Object.entries(body)) fields.set(k.toLowerCase(), v);
  return fields;
}

function optString(fields: Map<string, unknown>, name: string): string | undefined {
  const v = fields.get(name.toLowerCase());
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw decodeFailed(`${name} must be a string`, name);
  return v;
}

function optStringList(fields: Map<string, unknown>, name: string): string[] | null | undefined {
  if (!fields.has(name.toLowerCase())) return undefined;
  const v = fields.get(name.toLowerCase());
  if (v === null) return null;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    throw decodeFailed(`${name} must be an array of strings`, name);
  }
  return v;
}

function serviceChecks(fields: Map<string, unknown>): ServiceCheckRef[] | null {
  const v = fields.get('servicechecks');
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) throw decodeFailed('ServiceChecks must be an array', 'ServiceChecks');
  return v.map((raw: unknown, i) => {
    const field = `ServiceChecks[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw decodeFailed(`${field} must be an object`, field);
    }
    const f = fieldsOf(raw as Record<string, unknown>);
    const id = optString(f, 'ID');
    if (id === undefined || id === '') throw decodeFailed(`${field}.ID is required`, field);
    const ns = optString(f, 'Namespace');
    return ns === undefined ? { ID: id } : { ID: id, Namespace: ns };
  });
}

/** `LockDelay` as a Go duration string or a number of nanoseconds (small numbers are seconds). */
function lockDelayNs(fields: Map<string, unknown>): number {
  const v = fields.get('lockdelay');
  let ns: number;
  if (v === undefined || v === null) return DEFAULT_LOCK_DELAY_NS;
  if (typeof v === 'string') {
    const parsed = parseGoDurationNs(v);
    if (parsed === undefined) {
      throw decodeFailed(`time: invalid duration ${JSON.stringify(v)}`, 'LockDelay');
    }
    ns = parsed;
  } else if (typeof v === 'number' && Number.isFinite(v)) {
    ns = Math.trunc(v);
  } else {
    throw decodeFailed('LockDelay must be a duration string or a number', 'LockDelay');
  }
  if (ns < 0) throw decodeFailed('LockDelay must not be negative', 'LockDelay');
  const delayNs = ns < LOCK_DELAY_MIN_THRESHOLD ? ns * 1e9 : ns;
  // Consul caps lock-delay at 60 s; storing the cap keeps every stored value a valid Go
  // time.Duration, so Go clients can decode any session list.
  return Math.min(delayNs, MAX_LOCK_DELAY_MS * 1e6);
}

function behavior(fields: Map<string, unknown>): SessionBehavior {
  const v = optString(fields, 'Behavior') ?? '';
  if (v === '' || v === 'release') return 'release';
  if (v === 'delete') return 'delete';
  throw new InvalidArgumentError(`Invalid Behavior setting '${v}'`, 'Behavior');
}

function ttl(fields: Map<string, unknown>): string {
  const v = optString(fields, 'TTL') ?? '';
  if (v === '') return '';
  const ns = parseGoDurationNs(v);
  if (ns === undefined) {
    throw new InvalidArgumentError(
      `Session TTL '${v}' invalid: time: invalid duration ${JSON.stringify(v)}`,
      'TTL',
    );
  }
  if (ns !== 0 && (ns < SESSION_TTL_MIN_NS || ns > SESSION_TTL_MAX_NS)) {
    throw new InvalidArgumentError(
      `Invalid Session TTL '${ns}', must be between ` +
        `[${formatGoDurationNs(SESSION_TTL_MIN_NS)}=${formatGoDurationNs(SESSION_TTL_MAX_NS)}]`,
      'TTL',
    );
  }
  return v;
}

/**
 * Consul's check defaults: `NodeChecks` is ["serfHealth"] unless given; the deprecated
 * `Checks` given as `[]` empties `NodeChecks` (how pre-1.7 clients ask for no checks),
 * and it is echoed back only when it names something beyond the default.
 */
function checks(fields: Map<string, unknown>): Pick<SessionSpec, 'NodeChecks' | 'Checks'> {
  const legacy = optStringList(fields, 'Checks');
  const nodeChecks = optStringList(fields, 'NodeChecks');
  const resolvedNode = nodeChecks === undefined ? [SERF_HEALTH] : nodeChecks;
  if (legacy === undefined) return { NodeChecks: resolvedNode };
  if (legacy === null || legacy.length === 0) return { NodeChecks: [] };
  if (legacy.length === 1 && legacy[0] === SERF_HEALTH) return { NodeChecks: resolvedNode };
  if (resolvedNode === null || resolvedNode.length === 0) return { NodeChecks: resolvedNode };
  return { NodeChecks: resolvedNode, Checks: legacy };
}

/** Read a create body (already JSON-parsed; `undefined` when empty) into a session spec. */
export function parseSessionCreate(body: unknown, defaultNode: string): SessionSpec {
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) {
    throw decodeFailed('the body must be a JSON object', 'body');
  }
  const fields = fieldsOf((body ?? {}) as Record<string, unknown>);
  const node = optString(fields, 'Node') ?? defaultNode;
  if (node === '') throw new InvalidArgumentError('Must provide Node', 'Node');
  // Namespace and Partition (Enterprise) are accepted and ignored.
  optString(fields, 'Namespace');
  optString(fields, 'Partition');
  return {
    Name: optString(fields, 'Name') ?? '',
    Node: node,
    LockDelay: lockDelayNs(fields),
    Behavior: behavior(fields),
    TTL: ttl(fields),
    ...checks(fields),
    ServiceChecks: serviceChecks(fields),
  };
}

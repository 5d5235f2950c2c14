/**
 * KV scopes. A key is `global` when it lies under one of the mesh's global KV prefixes:
 * global is its one writer, and every zone holds a read-only replica (served locally, so
 * reads keep working with global down). Every other key is `zone`: it lives in one zone's
 * store only, as in a standalone zone. The global control plane owns the prefix list and
 * hands it to each zone in the sync `welcome`.
 *
 * A prefix is a folder (it ends with `/`), so `global/` never captures `global-config`.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.ts';
import { MAX_KEY_BYTES } from '../store/types.ts';
import { validatePrefix } from '../store/validate.ts';

/** At most this many global prefixes (each zone checks every KV write against them). */
export const MAX_GLOBAL_KV_PREFIXES = 64;
/** Longest KV key (and prefix): the store's limit less the `kv/` the zone stores under. */
export const MAX_KV_KEY_BYTES = MAX_KEY_BYTES - 'kv/'.length;
/** The global prefix a mesh has when the operator names none. */
export const DEFAULT_GLOBAL_KV_PREFIXES: readonly string[] = ['global/'];

export type KvScope = 'zone' | 'global';

/** A list of global KV prefixes: folders, none inside another, no repeats. */
export function validateGlobalKvPrefixes(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) throw new InvalidArgumentError(`${field} must be a list`, field);
  if (value.length > MAX_GLOBAL_KV_PREFIXES) {
    throw new InvalidArgumentError(
      `${field} has ${value.length} prefixes; at most ${MAX_GLOBAL_KV_PREFIXES} are allowed`,
      field,
    );
  }
  const out: string[] = [];
  for (const [i, raw] of value.entries()) {
    const at = `${field}[${i}]`;
    if (typeof raw !== 'string' || raw === '') {
      throw new InvalidArgumentError(`${at} must be a non-empty KV prefix`, at);
    }
    if (Buffer.byteLength(raw) > MAX_KV_KEY_BYTES) {
      throw new InvalidArgumentError(`${at} is longer than ${MAX_KV_KEY_BYTES} bytes`, at);
    }
    validatePrefix(raw, at);
    if (!raw.endsWith('/')) {
      throw new InvalidArgumentError(
        `${at} ${JSON.stringify(raw)} must end with "/": a global KV prefix is a folder`,
        at,
      );
    }
    const clash = out.find((p) => p.startsWith(raw) || raw.startsWith(p));
    if (clash !== undefined) {
      throw new InvalidArgumentError(
        `${at} ${JSON.stringify(raw)} overlaps ${JSON.stringify(clash)}; give each folder once`,
        at,
      );
    }
    out.push(raw);
  }
  return out;
}

/** Which keys are global, as one zone (or global itself) knows it. */
export class KvScopes {
  /** A zone that has not joined a global control plane: every key is its own. */
  static readonly standalone = new KvScopes([]);

  readonly globalPrefixes: readonly string[];

  constructor(globalPrefixes: readonly string[]) {
    this.globalPrefixes = [...globalPrefixes];
  }

  /** The global prefix `key` lies under, or undefined for a zone key. */
  globalPrefixOf(key: string): string | undefined {
    return this.globalPrefixes.find((p) => key.startsWith(p));
  }

  scopeOf(key: string): KvScope {
    return this.globalPrefixOf(key) === undefined ? 'zone' : 'global';
  }

  /**
   * Global prefixes a tree operation on `prefix` reaches into without lying wholly inside
   * them: `""` or `glo` reaches `global/`. (A tree inside a global prefix is global itself;
   * see {@link globalPrefixOf}.)
   */
  globalPrefixesUnder(prefix: string): string[] {
    return this.globalPrefixes.filter((p) => p.startsWith(prefix) && p !== prefix);
  }

  /** Whether a listing of `prefix` can show global keys (for the replica's age headers). */
  touchesGlobal(prefix: string): boolean {
    return this.globalPrefixOf(prefix) !== undefined || this.globalPrefixesUnder(prefix).length > 0;
  }

  equals(other: KvScopes): boolean {
    return (
      this.globalPrefixes.length === other.globalPrefixes.length &&
      this.globalPrefixes.every((p, i) => other.globalPrefixes[i] === p)
    );
  }
}

/**
 * The sync resource name of a global key. KV keys may hold spaces, Unicode and trailing
 * slashes, which resource names do not; the key itself travels in the body.
 */
export function kvResourceName(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * Reading one JSON object of a config entry body the way Consul decodes entries: field
 * names match case-insensitively and with `_` ignored (Consul accepts `snake_case` and
 * `PascalCase` alike), `null` counts as absent, and a field that is not part of the kind
 * is refused — Consul decodes entries strictly, so a typo (`Wieght`) is an error rather
 * than a silently ignored setting. Every failure names the field by its path in
 * Consul's spelling (`Splits[1].Weight`).
 */
import { isDnsLabel } from '../ca/spiffe.ts';
import { InvalidArgumentError } from '../errors.ts';
import { parseDuration } from '../options/duration.ts';

function fold(name: string): string {
  return name.replace(/_/g, '').toLowerCase();
}

export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A 400 in Consul's words for a body it could not decode, naming `field`. */
export function badField(field: string, problem: string): InvalidArgumentError {
  return new InvalidArgumentError(`Request decoding failed: ${field} ${problem}`, field);
}

/** Check a name path or body parameter: a DNS label, or `*` where `wildcard` allows it. */
export function checkEntryName(name: string, field: string, wildcard = false): string {
  if (wildcard && name === '*') return name;
  // Service, subset, namespace and zone names: DNS labels, as SPIFFE IDs and SNI need.
  if (!isDnsLabel(name)) {
    throw badField(
      field,
      `must be a lowercase DNS label (letters, digits, "-"; at most 63)${wildcard ? ' or "*"' : ''}, got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

/** An optional name field (a DNS label), or undefined when absent. */
export function label(f: EntryFields, name: string): string | undefined {
  const v = f.optionalText(name, 63);
  return v === undefined ? undefined : checkEntryName(v, f.field(name));
}

export class EntryFields {
  private readonly byFold = new Map<string, unknown>();

  /**
   * @param allowed - the canonical names of this object's fields; any other is refused.
   *   `CreateIndex`/`ModifyIndex` are always accepted (clients send back what they read).
   */
  constructor(
    raw: unknown,
    /** Where this object sits: "" for the top, `Splits[0]`. */
    readonly path: string,
    allowed: readonly string[],
  ) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw badField(path === '' ? 'body' : path, `must be a JSON object, got ${typeName(raw)}`);
    }
    const known = new Set([...allowed, 'CreateIndex', 'ModifyIndex'].map(fold));
    const spelled = new Map<string, string>();
    for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
      const f = fold(key);
      if (!known.has(f)) throw badField(this.field(key), 'is not a known field');
      // `kind` and `Kind` both: which one was meant is a guess, so neither is taken.
      const earlier = spelled.get(f);
      if (earlier !== undefined) {
        throw badField(this.field(key), `is given twice (also as ${JSON.stringify(earlier)})`);
      }
      spelled.set(f, key);
      if (value !== null && value !== undefined) this.byFold.set(f, value);
    }
  }

  field(name: string): string {
    return this.path === '' ? name : `${this.path}.${name}`;
  }

  get(name: string): unknown {
    return this.byFold.get(fold(name));
  }

  has(name: string): boolean {
    return this.byFold.has(fold(name));
  }

  optionalString(name: string, max = 1024): string | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'string')
      throw badField(this.field(name), `must be a string, got ${typeName(v)}`);
    if (v.length > max) throw badField(this.field(name), `must be at most ${max} characters`);
    return v;
  }

  /** A non-empty string, or undefined when absent; an empty string counts as absent. */
  optionalText(name: string, max = 1024): string | undefined {
    const v = this.optionalString(name, max);
    return v === '' ? undefined : v;
  }

  optionalEnum<T extends string>(name: string, values: readonly T[]): T | undefined {
    const v = this.optionalText(name);
    if (v === undefined) return undefined;
    if (!values.includes(v as T)) {
      throw badField(
        this.field(name),
        `must be one of ${values.join(', ')} (got ${JSON.stringify(v)})`,
      );
    }
    return v as T;
  }

  optionalBoolean(name: string): boolean | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') {
      throw badField(this.field(name), `must be true or false, got ${typeName(v)}`);
    }
    return v;
  }

  optionalInteger(name: string, min: number, max: number): number | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw badField(
        this.field(name),
        `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  }

  optionalNumber(name: string, min: number, max: number): number | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      throw badField(
        this.field(name),
        `must be a number from ${min} to ${max}, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  }

  /**
   * A Go duration string ("5s", "1m30s"), or a number of nanoseconds as Go encodes one.
   * `bounds` (in ms) keep it within what a proxy snapshot can hold; `0`/`"0s"` is
   * accepted whatever `minMs` is when `zeroMeansDefault` (Consul's "unset").
   */
  optionalDuration(
    name: string,
    bounds: { minMs?: number; maxMs?: number; zeroMeansDefault?: boolean } = {},
  ): string | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    let text: string;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) text = `${v / 1e6}ms`;
    else if (typeof v !== 'string') {
      throw badField(this.field(name), `must be a duration like "5s", got ${typeName(v)}`);
    } else text = v;
    let ms: number;
    try {
      ms = parseDuration(text, this.field(name));
    } catch {
      throw badField(
        this.field(name),
        `must be a duration like "5s" or "250ms" (got ${JSON.stringify(v)})`,
      );
    }
    if (ms === 0 && bounds.zeroMeansDefault === true) return text;
    if (
      (bounds.minMs !== undefined && ms < bounds.minMs) ||
      (bounds.maxMs !== undefined && ms > bounds.maxMs)
    ) {
      const range =
        bounds.minMs === undefined
          ? `at most ${formatBound(bounds.maxMs ?? Infinity)}`
          : `from ${formatBound(bounds.minMs)} to ${formatBound(bounds.maxMs ?? Infinity)}`;
      throw badField(
        this.field(name),
        `must be ${range}, the most a proxy accepts (got ${JSON.stringify(v)})`,
      );
    }
    return text;
  }

  optionalList(name: string, max: number): unknown[] | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw badField(this.field(name), `must be a list, got ${typeName(v)}`);
    if (v.length > max) throw badField(this.field(name), `must have at most ${max} items`);
    return v as unknown[];
  }

  optionalStringMap(name: string, max = 64): Record<string, string> | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) {
      throw badField(this.field(name), `must be an object of strings, got ${typeName(v)}`);
    }
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length > max) throw badField(this.field(name), `must have at most ${max} keys`);
    for (const [k, value] of entries) {
      if (typeof value !== 'string') {
        throw badField(`${this.field(name)}.${k}`, `must be a string, got ${typeName(value)}`);
      }
    }
    return entries.length === 0
      ? undefined
      : (Object.fromEntries(entries) as Record<string, string>);
  }

  /** A nested object's fields, or undefined when absent. */
  optionalObject(name: string, allowed: readonly string[]): EntryFields | undefined {
    const v = this.get(name);
    return v === undefined ? undefined : new EntryFields(v, this.field(name), allowed);
  }
}

function formatBound(ms: number): string {
  if (ms === Infinity) return 'any length';
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Parse a Go duration already accepted by {@link EntryFields.optionalDuration}, in ms. */
export function durationMs(text: string): number {
  return parseDuration(text, 'duration');
}

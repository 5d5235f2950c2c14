/**
 * Reading Consul request bodies the way Consul does. Consul decodes JSON with Go's
 * `encoding/json`, which matches field names case-insensitively, and translates snake_case
 * aliases (`deregister_critical_service_after`) on its agent endpoints; clients rely on
 * both (`{"name": "web", "port": 80}` works against a real agent). So a field here is found
 * by its name with case and underscores ignored. Fields nobody asks for are ignored, as in
 * Consul. A value of the wrong type is a 400 naming the field in Consul's spelling
 * (`Service.Port`).
 */
import { InvalidArgumentError } from '../../../core/index.ts';
import {
  validateMeta,
  validatePort,
  validateString,
  validateStringMap,
  validateTags,
} from '../../../core/src/catalog/validate.ts';
import { parseGoDuration } from '../http/go-duration.ts';

function fold(name: string): string {
  return name.replace(/_/g, '').toLowerCase();
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** One JSON object of a request body, with the path to it for error messages. */
export class ConsulObject {
  private readonly folded = new Map<string, unknown>();

  constructor(
    private readonly raw: Record<string, unknown>,
    /** Where this object is in the body: "" for the top, `Service`, `Checks[1]`. */
    readonly path: string,
  ) {
    // An exact spelling wins over a folded one, as in Go; otherwise the first seen.
    for (const [k, v] of Object.entries(raw)) {
      if (!this.folded.has(fold(k))) this.folded.set(fold(k), v);
    }
  }

  /** Wrap a decoded JSON body; anything but an object is a 400. */
  static body(value: unknown): ConsulObject {
    if (value === undefined) {
      throw new InvalidArgumentError(
        'Request decode failed: the body is empty; send a JSON object',
        'body',
      );
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InvalidArgumentError(
        `Request decode failed: the body must be a JSON object, got ${typeName(value)}`,
        'body',
      );
    }
    return new ConsulObject(value as Record<string, unknown>, '');
  }

  /** The field's path for messages: `Service.Port`. */
  field(name: string): string {
    return this.path === '' ? name : `${this.path}.${name}`;
  }

  /** The raw value of the first of `names` present (null counts as absent, as in Go). */
  get(...names: string[]): unknown {
    for (const name of names) {
      const exact = Object.hasOwn(this.raw, name) ? this.raw[name] : undefined;
      if (exact !== undefined && exact !== null) return exact;
      const v = this.folded.get(fold(name));
      if (v !== undefined && v !== null) return v;
    }
    return undefined;
  }

  has(...names: string[]): boolean {
    return this.get(...names) !== undefined;
  }

  string(name: string, fallback = '', ...aliases: string[]): string {
    const v = this.get(name, ...aliases);
    return v === undefined ? fallback : validateString(v, this.field(name));
  }

  optionalString(name: string, ...aliases: string[]): string | undefined {
    const v = this.get(name, ...aliases);
    return v === undefined ? undefined : validateString(v, this.field(name));
  }

  boolean(name: string, fallback = false, ...aliases: string[]): boolean {
    const v = this.get(name, ...aliases);
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') {
      throw new InvalidArgumentError(
        `${this.field(name)} must be true or false, got ${typeName(v)}`,
        this.field(name),
      );
    }
    return v;
  }

  integer(name: string, fallback = 0): number {
    const v = this.get(name);
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
      throw new InvalidArgumentError(
        `${this.field(name)} must be an integer, got ${typeof v === 'number' ? v : typeName(v)}`,
        this.field(name),
      );
    }
    return v;
  }

  port(name: string): number {
    const v = this.get(name);
    return v === undefined ? 0 : validatePort(v, this.field(name));
  }

  tags(name: string): string[] {
    const v = this.get(name);
    return v === undefined ? [] : [...validateTags(v, this.field(name))];
  }

  meta(name: string, ...aliases: string[]): Record<string, string> {
    const v = this.get(name, ...aliases);
    return v === undefined ? {} : { ...validateMeta(v, this.field(name)) };
  }

  stringMap(name: string, ...aliases: string[]): Record<string, string> {
    const v = this.get(name, ...aliases);
    return v === undefined ? {} : { ...validateStringMap(v, this.field(name)) };
  }

  /** A nested object, or undefined when absent. */
  object(name: string, ...aliases: string[]): ConsulObject | undefined {
    const v = this.get(name, ...aliases);
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) {
      throw new InvalidArgumentError(
        `${this.field(name)} must be an object, got ${typeName(v)}`,
        this.field(name),
      );
    }
    return new ConsulObject(v as Record<string, unknown>, this.field(name));
  }

  /** A list of objects, or [] when absent. */
  objects(name: string, ...aliases: string[]): ConsulObject[] {
    const v = this.get(name, ...aliases);
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      throw new InvalidArgumentError(
        `${this.field(name)} must be an array of objects, got ${typeName(v)}`,
        this.field(name),
      );
    }
    return v.map((item: unknown, i) => {
      const at = `${this.field(name)}[${i}]`;
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        throw new InvalidArgumentError(`${at} must be an object, got ${typeName(item)}`, at);
      }
      return new ConsulObject(item as Record<string, unknown>, at);
    });
  }

  /**
   * A duration in milliseconds: a Go duration string (`"10s"`, `"1m30s"`) or a number of
   * nanoseconds (how Go marshals `time.Duration`). Negative durations are a 400.
   */
  duration(name: string, ...aliases: string[]): number | undefined {
    const v = this.get(name, ...aliases);
    if (v === undefined) return undefined;
    const field = this.field(name);
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.ceil(v / 1e6);
    if (typeof v === 'string') {
      const ms = v === '' ? 0 : parseGoDuration(v);
      if (ms !== undefined) return Math.round(ms);
    }
    throw new InvalidArgumentError(
      `${field} must be a duration like "10s" or "500ms", got ${JSON.stringify(v)}`,
      field,
    );
  }

  /** Header map: Consul takes `{"Name": ["v1", "v2"]}`; a bare string is taken as one value. */
  header(name: string): Record<string, string[]> | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    const field = this.field(name);
    if (typeof v !== 'object' || Array.isArray(v)) {
      throw new InvalidArgumentError(`${field} must be an object of string arrays`, field);
    }
    const out: Record<string, string[]> = {};
    for (const [k, values] of Object.entries(v as Record<string, unknown>)) {
      out[k] = typeof values === 'string' ? [values] : [...validateTags(values, `${field}.${k}`)];
    }
    return out;
  }
}

/** A boolean query parameter as Consul reads it: present and empty means true. */
export function queryFlag(value: string | string[] | undefined, name: string): boolean {
  if (value === undefined) return false;
  const v = Array.isArray(value) ? (value[value.length - 1] ?? '') : value;
  if (v === '' || /^(1|t|true)$/i.test(v)) return true;
  if (/^(0|f|false)$/i.test(v)) return false;
  throw new InvalidArgumentError(`Invalid value for ?${name}`, name);
}

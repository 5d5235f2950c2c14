/**
 * The field reader behind the config decoders (`decodeProxyConfig`, `decodeGatewayConfig`):
 * one object at a time, each error an {@link InvalidArgumentError} naming the field by its
 * full path (`clusters[2].lb.hashHeader`), so a rejected config says exactly what is wrong.
 */
import { isDnsLabel } from '../ca/spiffe.ts';
import { InvalidArgumentError } from '../errors.ts';

/** Reads one object's fields, naming each by its full path in errors. */
export class Fields {
  readonly #value: Record<string, unknown>;
  readonly #path: string;

  /** @param path - where `value` is in the document; `''` for the root (named `config`). */
  constructor(value: unknown, path: string) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InvalidArgumentError(`${path || 'config'} must be an object`, path || 'config');
    }
    this.#value = value as Record<string, unknown>;
    this.#path = path;
  }

  /** The full path of `key`, for errors. */
  at(key: string): string {
    return this.#path === '' ? key : `${this.#path}.${key}`;
  }

  has(key: string): boolean {
    return this.#value[key] !== undefined;
  }

  /** The value as given, for checks that live elsewhere. */
  raw(key: string): unknown {
    return this.#value[key];
  }

  object(key: string, fallback?: Record<string, unknown>): Fields {
    const v = this.#value[key] ?? fallback;
    if (v === undefined)
      throw new InvalidArgumentError(`${this.at(key)} is required`, this.at(key));
    return new Fields(v, this.at(key));
  }

  /** A list of objects, each read with its own path. */
  list<T>(key: string, min: number, max: number, each: (item: Fields) => T, fallback?: T[]): T[] {
    return this.values(key, min, max, (raw, at) => each(new Fields(raw, at)), fallback);
  }

  /** A list of plain values. */
  values<T>(
    key: string,
    min: number,
    max: number,
    each: (raw: unknown, at: string) => T,
    fallback?: T[],
  ): T[] {
    const v = this.#value[key];
    if (v === undefined && fallback !== undefined) return [...fallback];
    if (!Array.isArray(v) || v.length < min || v.length > max) {
      throw new InvalidArgumentError(
        `${this.at(key)} must be a list of ${min} to ${max} items`,
        this.at(key),
      );
    }
    return v.map((raw: unknown, i) => each(raw, `${this.at(key)}[${i}]`));
  }

  string(key: string, max: number): string {
    const v = this.optionalString(key, max);
    if (v === undefined) {
      throw new InvalidArgumentError(`${this.at(key)} is required`, this.at(key));
    }
    return v;
  }

  optionalString(key: string, max: number, allowEmpty = false): string | undefined {
    const v = this.#value[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || (!allowEmpty && v.length === 0) || v.length > max) {
      throw new InvalidArgumentError(
        `${this.at(key)} must be a ${allowEmpty ? '' : 'non-empty '}string of at most ${max} characters`,
        this.at(key),
      );
    }
    return v;
  }

  optionalBoolean(key: string): boolean | undefined {
    const v = this.#value[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') {
      throw new InvalidArgumentError(`${this.at(key)} must be true or false`, this.at(key));
    }
    return v;
  }

  /** A lowercase DNS label (a service, namespace, zone or gateway name). */
  label(key: string, fallback?: string): string {
    const v = this.#value[key] ?? fallback;
    if (!isDnsLabel(v)) {
      throw new InvalidArgumentError(
        `${this.at(key)} must be a lowercase DNS label (got ${JSON.stringify(v)})`,
        this.at(key),
      );
    }
    return v;
  }

  port(key: string): number {
    return this.integer(key, 1, 65535);
  }

  integer(key: string, min: number, max: number, fallback?: number): number {
    const v = this.#value[key] ?? fallback;
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
      throw new InvalidArgumentError(
        `${this.at(key)} must be an integer from ${min} to ${max}`,
        this.at(key),
      );
    }
    return v as number;
  }

  number(key: string, min: number, max: number, fallback?: number): number {
    const v = this.#value[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      throw new InvalidArgumentError(
        `${this.at(key)} must be a number from ${min} to ${max}`,
        this.at(key),
      );
    }
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback?: T): T {
    const v = this.#value[key] ?? fallback;
    if (!allowed.includes(v as T)) {
      throw new InvalidArgumentError(
        `${this.at(key)} must be one of ${allowed.join(', ')}`,
        this.at(key),
      );
    }
    return v as T;
  }
}

/**
 * Parsers for the plain values that arrive as strings from flags and environment
 * variables. Each names its field in the {@link ConfigError} so an operator knows which
 * flag or variable to fix.
 */
import { ConfigError } from '../errors.ts';

export interface IntegerRange {
  /** @default 0 */
  min?: number;
  /** @default Number.MAX_SAFE_INTEGER */
  max?: number;
}

/**
 * Parse a whole number from a number or a decimal string (`"42"`). Hex, exponents and
 * fractions are refused: an index or a count written as `1e3` is more likely a mistake.
 */
export function parseInteger(value: unknown, field: string, range: IntegerRange = {}): number {
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = range;
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) n = Number(value.trim());
  else throw new ConfigError(`${field} must be a whole number, got ${describe(value)}`, field);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${field} must be a whole number from ${min} to ${max}, got ${n}`, field);
  }
  return n;
}

const truthy = new Set(['true', '1', 'yes', 'on']);
const falsy = new Set(['false', '0', 'no', 'off']);

/** Parse a boolean from `true/false`, `1/0`, `yes/no`, `on/off` (any case). */
export function parseBoolean(value: unknown, field: string): boolean {
  if (typeof value === 'boolean') return value;
  const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  if (text !== undefined && truthy.has(text)) return true;
  if (text !== undefined && falsy.has(text)) return false;
  throw new ConfigError(`${field} must be true or false, got ${describe(value)}`, field);
}

/** Parse a comma-separated list (`"a, b,c"` → `["a","b","c"]`); arrays pass through. */
export function parseList(value: unknown, field: string): string[] {
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return [...value];
  if (typeof value !== 'string') {
    throw new ConfigError(`${field} must be a comma-separated list`, field);
  }
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** Accept one of a fixed set of strings, listing the choices when it is not. */
export function parseEnum<const T extends string>(
  value: unknown,
  field: string,
  choices: readonly T[],
): T {
  const text = typeof value === 'string' ? value.trim() : undefined;
  const found = choices.find((c) => c === text);
  if (found === undefined) {
    throw new ConfigError(
      `${field} must be one of ${choices.join(', ')}; got ${describe(value)}`,
      field,
    );
  }
  return found;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

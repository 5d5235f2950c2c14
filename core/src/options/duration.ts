/**
 * Durations in options: operators write `"1.5s"` or `"5m"`, code works in milliseconds.
 *
 * The syntax is a subset of Go's `time.ParseDuration` (what Kuma and Consul configs use):
 * one or more `<number><unit>` terms with units `ms`, `s`, `m`, `h`, e.g. `"1m30s"`.
 */
import { ConfigError } from '../errors.ts';

/**
 * A duration as options accept it: a number of milliseconds, or a string with units.
 * Resolved options store the number of milliseconds in a field named `…Ms`.
 */
export type Duration = number | string;

const unitMs: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const term = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)/y;

/**
 * Parse a duration into whole milliseconds (rounded).
 *
 * Numbers are taken as milliseconds. Strings need a unit, except `"0"`: a bare `"250"`
 * from an environment variable is ambiguous (seconds? milliseconds?), so it is refused
 * rather than guessed.
 *
 * @param field - the option the value came from, named in the error (`"drainTimeout"`,
 *   `"CAUSEWAY_DRAIN_TIMEOUT"`).
 * @throws ConfigError when the value is negative, not finite, or not a duration.
 */
export function parseDuration(value: unknown, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new ConfigError(`${field} must be a non-negative duration, got ${value}`, field);
    }
    return Math.round(value);
  }
  if (typeof value !== 'string') {
    throw new ConfigError(`${field} must be a duration like "1.5s" or "250ms"`, field);
  }
  const text = value.trim();
  if (text === '0') return 0;
  if (text === '') throw new ConfigError(`${field} must not be empty`, field);
  if (/^\d+(\.\d+)?$/.test(text)) {
    throw new ConfigError(
      `${field}: duration "${value}" has no unit; write e.g. "${text}ms" or "${text}s"`,
      field,
    );
  }
  let total = 0;
  term.lastIndex = 0;
  while (term.lastIndex < text.length) {
    const match = term.exec(text);
    if (match === null) {
      throw new ConfigError(
        `${field}: "${value}" is not a duration; use a number with ms, s, m or h (e.g. "1m30s")`,
        field,
      );
    }
    total += Number(match[1]) * (unitMs[match[2] ?? ''] ?? Number.NaN);
  }
  if (!Number.isFinite(total)) throw new ConfigError(`${field}: "${value}" is too large`, field);
  return Math.round(total);
}

/**
 * Format milliseconds the way {@link parseDuration} reads them back (`90000` → `"1m30s"`),
 * for help texts and log lines that operators copy into config.
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join('');
}

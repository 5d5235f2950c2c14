/**
 * Go's `time.ParseDuration` and `Duration.String()`, which Consul uses for every duration it
 * reads or prints: `?wait=`, session `TTL` and `LockDelay`, check `Interval`/`Timeout`, ACL
 * `ExpirationTTL`, and error messages (`must be between [10s=24h0m0s]`). Nanosecond
 * versions for exactness, millisecond wrappers for the rest of Causeway.
 */

const unitNs: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Nanoseconds, or `undefined` where Go would answer `time: invalid duration`. */
export function parseGoDurationNs(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  while (rest.length > 0) {
    const m = /^(\d*(?:\.\d*)?)(ns|us|µs|μs|ms|s|m|h)/.exec(rest);
    const digits = m?.[1] ?? '';
    if (!m || digits === '' || digits === '.') return undefined;
    total += Number(digits) * (unitNs[m[2] ?? ''] ?? NaN);
    rest = rest.slice(m[0].length);
  }
  return Number.isFinite(total) ? sign * Math.round(total) : undefined;
}

/** Go's `Duration.String()`: `250ms`, `10s`, `1.5s`, `1m30s`, `24h0m0s`. */
export function formatGoDurationNs(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  let s = Math.abs(ns) / 1e9;
  if (s < 1) return `${sign}${Math.abs(ns) / 1e6}ms`;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const secs = `${Number(s.toFixed(9))}s`;
  if (h > 0) return `${sign}${h}h${m}m${secs}`;
  if (m > 0) return `${sign}${m}m${secs}`;
  return `${sign}${secs}`;
}

/** Milliseconds, or `undefined` where Go would answer `time: invalid duration`. */
export function parseGoDuration(text: string): number | undefined {
  const ns = parseGoDurationNs(text);
  return ns === undefined ? undefined : ns / 1e6;
}

/** Go's `Duration.String()` of a duration in milliseconds. */
export function formatGoDuration(ms: number): string {
  return formatGoDurationNs(ms * 1e6);
}

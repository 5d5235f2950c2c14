/**
 * Hiding secrets before options are logged or shown (`causeway status`, startup logs).
 *
 * pino's `redact` (see `logging.ts`) covers fixed paths in log records; this covers whole
 * option trees, including passwords embedded in URLs such as `redis://:pw@host:6379`.
 */
import { isPlainObject } from './merge.ts';

/** What a hidden secret is replaced with. */
export const REDACTED = '[redacted]';

/**
 * Option names whose values are secrets: tokens, passwords, secrets, credentials and key
 * material (`key`, `tlsKey`, `privateKey`, `keyPem`). Names that point at a secret rather
 * than hold it (`tokenFile`, `keyPath`, `secretsDir`) and durations (`tokenTtlMs`) stay
 * visible, because operators need them to debug a deployment.
 */
const secretWord =
  /token|passw(or)?d|secret|credential|authorization|cookie|api_?key|private_?key|key_?(?:pem|material|data)$/i;
// Case-sensitive on purpose: `tlsKey` and `ca_key` are key material, `monkey` is not.
const keyName = /^(?:key|KEY)$|(?:Key|_key|_KEY|-key)$/;
const referenceName = /(?:file|path|dir|ms|ttl)$/i;

// scheme://USERINFO@host — the userinfo runs to the last "@" before the path, so a
// password that itself contains "@" is hidden whole.
const urlUserinfo = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#]*)@/gi;
// Redis URLs put a lone password before "@" (`redis://pw@host`); elsewhere it is a user name.
const passwordOnlySchemes = /^redis(?:s|-sentinel|-cluster)?:\/\/$/i;
// ?token=…&password=… in query strings.
const secretQueryParam = /([?&][^\s=&#]*(?:token|password|secret)[^\s=&#]*=)[^\s&#]*/gi;

/** Whether an option name holds a secret by the default rules. */
export function isSecretKey(name: string): boolean {
  return (secretWord.test(name) || keyName.test(name)) && !referenceName.test(name);
}

/** Replace passwords in URLs inside a string (`redis://u:pw@h` → `redis://u:[redacted]@h`). */
export function redactUrlSecrets(text: string): string {
  return text
    .replace(urlUserinfo, (_all, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      if (colon !== -1) return `${scheme}${userinfo.slice(0, colon)}:${REDACTED}@`;
      return passwordOnlySchemes.test(scheme) ? `${scheme}${REDACTED}@` : `${scheme}${userinfo}@`;
    })
    .replace(secretQueryParam, `$1${REDACTED}`);
}

/**
 * A deep copy of `value` with secrets replaced by `"[redacted]"`, for logging resolved
 * options. Secret-named fields ({@link isSecretKey}, plus `secretKeys`) are hidden
 * whatever their type, unless unset (`undefined`/`null`/`""`) — knowing a secret is
 * missing is useful and leaks nothing. Every string elsewhere has URL passwords removed.
 *
 * Plain objects and arrays are copied; other objects (Buffers, Dates, class instances) are
 * kept by reference, so pass plain data. Cycles become `"[circular]"`.
 *
 * @param secretKeys - extra names (exact, case-insensitive) or patterns to treat as
 *   secret, in addition to the defaults, which cannot be switched off.
 */
export function redact<T>(value: T, secretKeys: readonly (string | RegExp)[] = []): T {
  const extra = secretKeys.map((k) => (typeof k === 'string' ? k.toLowerCase() : k));
  const isSecret = (name: string) =>
    isSecretKey(name) ||
    extra.some((k) => (typeof k === 'string' ? k === name.toLowerCase() : k.test(name)));
  return copy(value, isSecret, new WeakSet()) as T;
}

function copy(value: unknown, isSecret: (name: string) => boolean, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactUrlSecrets(value);
  if (!Array.isArray(value) && !isPlainObject(value)) return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => copy(v, isSecret, seen));
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const unset = v === undefined || v === null || v === '';
      out[key] = isSecret(key) && !unset ? REDACTED : copy(v, isSecret, seen);
    }
    return out;
  } finally {
    // A value seen twice on different branches is a shared reference, not a cycle.
    seen.delete(value);
  }
}

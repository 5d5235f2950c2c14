/**
 * Header handling on raw `[name, value, name, value…]` arrays, as Node's parser delivers
 * them and as `http.request` / `writeHead` accept them: headers pass through without an
 * object per request or a lower-cased copy of each name. Hop-by-hop headers stop here
 * (RFC 9110 §7.6.1); the connection to the upstream is ours, pooled and kept alive.
 */

/** `name` equals `lower` (already lower-case ASCII), ignoring case, without allocating. */
export function sameName(name: string, lower: string): boolean {
  const n = lower.length;
  if (name.length !== n) return false;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c !== lower.charCodeAt(i) && (c | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Two header names are equal ignoring ASCII case (token characters only). */
function equalsIgnoreCase(a: string, b: string): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y && (x | 0x20) !== (y | 0x20)) return false;
  }
  return true;
}

/** Hop-by-hop headers that never cross the proxy (`transfer-encoding` is re-framed by Node). */
export function isHopByHop(name: string): boolean {
  switch (name.length) {
    case 2:
      return sameName(name, 'te');
    case 7:
      return sameName(name, 'upgrade') || sameName(name, 'trailer');
    case 10:
      return sameName(name, 'connection') || sameName(name, 'keep-alive');
    case 14:
      // HTTP/1.1 lets an app send it; HTTP/2 refuses it as connection-specific.
      return sameName(name, 'http2-settings');
    case 16:
      return sameName(name, 'proxy-connection');
    default:
      return false;
  }
}

/**
 * Names listed in a `Connection` header that are hop-by-hop for this message (RFC 9110
 * §7.6.1), lower-cased; undefined when it names only `close`/`keep-alive` (the usual case,
 * answered without allocating).
 */
export function connectionNamed(raw: readonly string[]): string[] | undefined {
  let named: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== 10 || !sameName(name, 'connection')) continue;
    const value = raw[i + 1] as string;
    if (sameName(value, 'keep-alive') || sameName(value, 'close')) continue;
    for (const token of value.split(',')) {
      const t = token.trim().toLowerCase();
      if (t !== '' && t !== 'close' && t !== 'keep-alive') (named ??= []).push(t);
    }
  }
  return named;
}

function isNamed(name: string, named: readonly string[] | undefined): boolean {
  if (named === undefined) return false;
  for (const n of named) if (sameName(name, n)) return true;
  return false;
}

/** What the request's headers say that the proxy needs, found in the same pass that copies them. */
export interface RequestHeaderFacts {
  contentLength: number;
  chunked: boolean;
  traceparent: string | undefined;
  hashValue: string | undefined;
}

/**
 * Copy request headers for the upstream: drop hop-by-hop headers and `traceparent`
 * (the caller appends the next one), and note body framing and the hash header.
 * `contentLength` is -1 when absent.
 */
export function requestHeaders(
  raw: readonly string[],
  hashHeader: string | undefined,
  facts: RequestHeaderFacts,
): string[] {
  const out: string[] = [];
  facts.contentLength = -1;
  facts.chunked = false;
  facts.traceparent = undefined;
  facts.hashValue = undefined;
  const named = connectionNamed(raw);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const len = name.length;
    if (name.charCodeAt(0) === 58 /* ':' */) {
      // HTTP/2 pseudo-headers (h2c listeners): the authority becomes the HTTP/1.1 Host.
      if (name === ':authority') out.push('host', value);
      continue;
    }
    if (isHopByHop(name) || isNamed(name, named)) continue;
    if (len === 11 && sameName(name, 'traceparent')) {
      facts.traceparent = value;
      continue;
    }
    if (len === 14 && sameName(name, 'content-length')) facts.contentLength = Number(value);
    else if (len === 17 && sameName(name, 'transfer-encoding')) facts.chunked = true;
    if (hashHeader !== undefined && facts.hashValue === undefined && sameName(name, hashHeader)) {
      facts.hashValue = value;
    }
    out.push(name, value);
  }
  return out;
}

/**
 * Copy response headers for the downstream, dropping hop-by-hop headers (and those
 * `Connection` names), and for an HTTP/2 downstream also `transfer-encoding` (HTTP/2
 * frames bodies itself and refuses it) and repeats of a header HTTP/2 allows once (Node
 * throws on a second `content-type`, which HTTP/1.1 parsers accept): the first one wins.
 */
export function responseHeaders(raw: readonly string[], http2 = false): string[] {
  const out: string[] = [];
  const named = connectionNamed(raw);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (isHopByHop(name) || isNamed(name, named)) continue;
    if (http2) {
      if (name.length === 17 && sameName(name, 'transfer-encoding')) continue;
      if (repeatsSingleValue(out, name)) continue;
    }
    out.push(name, raw[i + 1] as string);
  }
  return out;
}

// Headers Node's HTTP/2 layer accepts once per message (kSingleValueHeaders in
// lib/internal/http2/util.js).
const SINGLE_VALUE = new Set([
  'access-control-allow-credentials',
  'access-control-max-age',
  'access-control-request-method',
  'age',
  'authorization',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-md5',
  'content-range',
  'content-type',
  'date',
  'dnt',
  'etag',
  'expires',
  'from',
  'host',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'range',
  'referer',
  'retry-after',
  'tk',
  'upgrade-insecure-requests',
  'user-agent',
  'x-content-type-options',
]);

/** `name` is already in `out` and may appear only once; allocates only on a repeat. */
function repeatsSingleValue(out: readonly string[], name: string): boolean {
  const n = name.length;
  for (let i = 0; i < out.length; i += 2) {
    const seen = out[i] as string;
    if (seen.length === n && equalsIgnoreCase(seen, name)) {
      return SINGLE_VALUE.has(seen.toLowerCase());
    }
  }
  return false;
}

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

/** Hop-by-hop headers that never cross the proxy (`transfer-encoding` is re-framed by Node). */
export function isHopByHop(name: string): boolean {
  switch (name.length) {
    case 2:
      return sameName(name, 'te');
    case 7:
      return sameName(name, 'upgrade') || sameName(name, 'trailer');
    case 10:
      return sameName(name, 'connection') || sameName(name, 'keep-alive');
    case 16:
      return sameName(name, 'proxy-connection');
    default:
      return false;
  }
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
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const len = name.length;
    if (name.charCodeAt(0) === 58 /* ':' */) {
      // HTTP/2 pseudo-headers (h2c listeners): the authority becomes the HTTP/1.1 Host.
      if (name === ':authority') out.push('host', value);
      continue;
    }
    if (isHopByHop(name)) continue;
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
 * Copy response headers for the downstream, dropping hop-by-hop headers, and for an
 * HTTP/2 downstream also `transfer-encoding` (HTTP/2 frames bodies itself and refuses it).
 */
export function responseHeaders(raw: readonly string[], http2 = false): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (isHopByHop(name)) continue;
    if (http2 && name.length === 17 && sameName(name, 'transfer-encoding')) continue;
    out.push(name, raw[i + 1] as string);
  }
  return out;
}

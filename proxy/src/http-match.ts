/**
 * The one HTTP request matcher, used by inbound authorization rules and outbound routes,
 * so that a `pathPrefix` means the same thing in both.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { HeaderMatch, HttpMatch } from '../../core/index.ts';

export interface RequestFacts {
  method: string;
  /** The path without the query string. */
  path: string;
  headers: IncomingHttpHeaders;
}

/** Split `/a/b?x=1` into its path. */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * The request target in the form rules are matched against and the app receives, or
 * undefined when it must be refused (400). Envoy's `normalize_path` + `merge_slashes`:
 *
 * - absolute-form (`http://host/p`, what a client sends a proxy) becomes origin-form (`/p`;
 *   {@link authorityOf} gives the host, which replaces `Host`, RFC 9112 §3.2.2);
 * - a fragment (`#…`, never meant to be sent) is dropped;
 * - `%xx` of an unreserved character (`A-Z a-z 0-9 - . _ ~`) is decoded, others are kept
 *   (hex upper-cased); an encoded `/` or `\` is refused, since apps disagree on whether it
 *   separates segments;
 * - `\` becomes `/`, repeated slashes merge and `.`/`..` segments resolve (RFC 3986 §5.2.4).
 *
 * The query is kept as sent. An already-normal target (no `%`, `\`, `//`, `/.` or `#`
 * in its path, the usual case) is returned as is after one scan, without allocating.
 */
export function normalizeTarget(url: string): string | undefined {
  const n = url.length;
  if (n === 0) return undefined;
  if (url.charCodeAt(0) !== 47 /* / */) return normalizeOtherForm(url);
  let i = 0;
  for (; i < n; i++) {
    const c = url.charCodeAt(i);
    if (c === 63 /* ? */) break;
    if (c === 37 /* % */ || c === 92 /* \ */ || c === 35 /* # */) return normalizeSlow(url);
    if (c === 47) {
      const next = url.charCodeAt(i + 1);
      if (next === 47 || next === 46 /* . */) return normalizeSlow(url);
    }
  }
  // A fragment after the query.
  if (i < n && url.indexOf('#', i) !== -1) return normalizeSlow(url);
  return url;
}

/** The authority of an absolute-form target (`http://host:port/p` → `host:port`). */
export function authorityOf(url: string): string | undefined {
  const m = ABSOLUTE.exec(url);
  return m === null ? undefined : m[2];
}

const ABSOLUTE = /^(https?):\/\/([^/?#\\]*)/i;

function normalizeOtherForm(url: string): string | undefined {
  if (url === '*') return url; // OPTIONS * (asterisk-form)
  const m = ABSOLUTE.exec(url);
  if (m === null || m[2] === '') return undefined;
  const rest = url.slice(m[0].length);
  const target = rest === '' || rest.charCodeAt(0) === 63 ? `/${rest}` : rest;
  return target.charCodeAt(0) === 47 ? normalizeTarget(target) : undefined;
}

function normalizeSlow(url: string): string | undefined {
  const hash = url.indexOf('#');
  const withoutFragment = hash === -1 ? url : url.slice(0, hash);
  const q = withoutFragment.indexOf('?');
  const query = q === -1 ? '' : withoutFragment.slice(q);
  let path = q === -1 ? withoutFragment : withoutFragment.slice(0, q);
  if (path.includes('%')) {
    const decoded = decodeUnreserved(path);
    if (decoded === undefined) return undefined;
    path = decoded;
  }
  if (path.includes('\\')) path = path.replaceAll('\\', '/');
  return removeDotSegments(path) + query;
}

/** Decode `%xx` of unreserved characters; undefined for an encoded `/` or `\`. */
function decodeUnreserved(path: string): string | undefined {
  let out = '';
  let from = 0;
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', i + 1)) {
    const hex = path.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) continue;
    const code = parseInt(hex, 16);
    if (code === 0x2f || code === 0x5c) return undefined;
    out += path.slice(from, i);
    out += isUnreserved(code) ? String.fromCharCode(code) : `%${hex.toUpperCase()}`;
    from = i + 3;
    i += 2;
  }
  return out + path.slice(from);
}

function isUnreserved(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5f ||
    c === 0x7e
  );
}

/** Merge slashes and resolve `.` and `..` (never above the root); keeps a trailing slash. */
function removeDotSegments(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  let trailing = false;
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i] as string;
    const last = i === segments.length - 1;
    if (s === '' || s === '.') {
      trailing = last;
    } else if (s === '..') {
      out.pop();
      trailing = last;
    } else {
      out.push(s);
      trailing = false;
    }
  }
  return out.length === 0 ? '/' : `/${out.join('/')}${trailing ? '/' : ''}`;
}

export function matchesHttp(match: HttpMatch, req: RequestFacts): boolean {
  if (match.pathExact !== undefined && req.path !== match.pathExact) return false;
  if (match.pathPrefix !== undefined && !req.path.startsWith(match.pathPrefix)) return false;
  if (match.methods !== undefined && !match.methods.includes(req.method)) return false;
  if (match.headers !== undefined) {
    for (const h of match.headers) if (!matchesHeader(h, req.headers)) return false;
  }
  return true;
}

function matchesHeader(h: HeaderMatch, headers: IncomingHttpHeaders): boolean {
  const raw = headers[h.name];
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  let ok: boolean;
  if (h.present !== undefined) ok = (value !== undefined) === h.present;
  else if (value === undefined) ok = false;
  else if (h.exact !== undefined) ok = value === h.exact;
  else ok = value.startsWith(h.prefix ?? '');
  return h.invert === true ? !ok : ok;
}

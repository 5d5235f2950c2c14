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

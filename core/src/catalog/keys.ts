/**
 * Where catalog records live in the store. Names and IDs become key segments, so the two
 * characters that would break the layout — `/` (a segment separator) and `%` (the escape
 * itself) — are percent-encoded; everything else is kept, so keys of ordinary names stay
 * readable (`catalog/service/node-1/web-1`).
 */
import { CorruptDataError } from '../errors.ts';

export const CATALOG_PREFIX = 'catalog/';
export const NODE_PREFIX = 'catalog/node/';
export const SERVICE_PREFIX = 'catalog/service/';
export const CHECK_PREFIX = 'catalog/check/';

/** Escape a name for use as one key segment. */
export function encodeSegment(name: string): string {
  return name.replace(/%/g, '%25').replace(/\//g, '%2F');
}

/** Undo {@link encodeSegment}. */
export function decodeSegment(segment: string): string {
  return segment.replace(/%2F/gi, '/').replace(/%25/g, '%');
}

export function nodeKey(node: string): string {
  return `${NODE_PREFIX}${encodeSegment(node)}`;
}

export function serviceKey(node: string, serviceId: string): string {
  return `${SERVICE_PREFIX}${encodeSegment(node)}/${encodeSegment(serviceId)}`;
}

/** The prefix of every service instance on `node`. */
export function nodeServicesPrefix(node: string): string {
  return `${SERVICE_PREFIX}${encodeSegment(node)}/`;
}

export function checkKey(node: string, checkId: string): string {
  return `${CHECK_PREFIX}${encodeSegment(node)}/${encodeSegment(checkId)}`;
}

/** The prefix of every check on `node` (node-level and service-level). */
export function nodeChecksPrefix(node: string): string {
  return `${CHECK_PREFIX}${encodeSegment(node)}/`;
}

export type CatalogKey =
  | { kind: 'node'; node: string }
  | { kind: 'service'; node: string; id: string }
  | { kind: 'check'; node: string; id: string };

/** What a catalog key names; throws {@link CorruptDataError} for a key outside the layout. */
export function parseCatalogKey(key: string): CatalogKey {
  if (key.startsWith(NODE_PREFIX)) {
    const rest = key.slice(NODE_PREFIX.length);
    if (rest.length > 0 && !rest.includes('/')) return { kind: 'node', node: decodeSegment(rest) };
  } else {
    const kind = key.startsWith(SERVICE_PREFIX)
      ? 'service'
      : key.startsWith(CHECK_PREFIX)
        ? 'check'
        : undefined;
    if (kind !== undefined) {
      const parts = key.slice((kind === 'service' ? SERVICE_PREFIX : CHECK_PREFIX).length);
      const [node, id, ...extra] = parts.split('/');
      if (node && id && extra.length === 0) {
        return { kind, node: decodeSegment(node), id: decodeSegment(id) };
      }
    }
  }
  throw new CorruptDataError(`"${key}" is not a catalog key`);
}

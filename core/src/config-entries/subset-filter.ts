/**
 * Service-resolver subset filters: the part of Consul's filter language that picks
 * instances by version or tag, which is what subsets are used for. A filter is one or
 * more clauses joined by `and`:
 *
 * - `Service.Meta.<key> == <value>` (and `!=`)
 * - `Service.Tags contains <tag>` (and `not contains`)
 *
 * Values may be quoted (`"v2"`) or bare (`v2`). Anything else is refused when the entry
 * is written, naming the filter, rather than matching nothing at run time.
 */
import { InvalidArgumentError } from '../errors.ts';

export type SubsetClause =
  | { kind: 'meta'; key: string; value: string; negate: boolean }
  | { kind: 'tag'; tag: string; negate: boolean };

/** What a clause is tested against: an instance's meta and tags. */
export interface FilterTarget {
  meta: Record<string, string>;
  tags: readonly string[];
}

const VALUE = String.raw`("(?:[^"\\]|\\.)*"|[^\s"]+)`;
const META = new RegExp(String.raw`^Service\.Meta\.([A-Za-z0-9_.-]+)\s*(==|!=)\s*${VALUE}$`);
const TAGS = new RegExp(String.raw`^Service\.Tags\s+(not\s+contains|contains)\s+${VALUE}$`);

function unquote(v: string): string {
  return v.startsWith('"') ? (JSON.parse(v) as string) : v;
}

/** Parse a filter; `field` names it in errors. An empty filter matches every instance. */
export function parseSubsetFilter(filter: string, field: string): SubsetClause[] {
  const text = filter.trim();
  if (text === '') return [];
  return text.split(/\s+and\s+/).map((part) => {
    const clause = part.trim();
    const meta = META.exec(clause);
    if (meta) {
      return {
        kind: 'meta',
        key: meta[1] ?? '',
        value: unquote(meta[3] ?? ''),
        negate: meta[2] === '!=',
      };
    }
    const tags = TAGS.exec(clause);
    if (tags) {
      return {
        kind: 'tag',
        tag: unquote(tags[2] ?? ''),
        negate: (tags[1] ?? '').startsWith('not'),
      };
    }
    throw new InvalidArgumentError(
      `Request decoding failed: ${field} has an unsupported clause ${JSON.stringify(clause)}; ` +
        'use Service.Meta.<key> == <value> or Service.Tags contains <tag>, joined by "and"',
      field,
    );
  });
}

/** Whether an instance passes every clause. */
export function matchesSubset(clauses: readonly SubsetClause[], target: FilterTarget): boolean {
  return clauses.every((c) => {
    const hit = c.kind === 'meta' ? target.meta[c.key] === c.value : target.tags.includes(c.tag);
    return c.negate ? !hit : hit;
  });
}

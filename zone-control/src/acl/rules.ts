/**
 * ACL rules as Consul writes them, in JSON or the HCL block form, turned into a flat list
 * of grants. Consul's rule language (https://developer.hashicorp.com/consul/docs/security/acl/acl-rules):
 *
 * ```hcl
 * key_prefix "app/" { policy = "write" }    # every key under app/
 * key "app/locked"  { policy = "deny" }     # exactly this key
 * service "web"     { policy = "read" }
 * operator = "read"
 * acl      = "write"
 * ```
 *
 * or the same as JSON: `{"key_prefix": {"app/": {"policy": "write"}}, "operator": "read"}`.
 * Rule kinds Causeway does not enforce (`agent`, `event`, `query`, `keyring`, `mesh`,
 * `peering`, …) are accepted and ignored, so policies written for Consul load unchanged.
 */
import { InvalidArgumentError } from '../../../core/index.ts';
import { parseHclRules } from './hcl-rules.ts';
import type { RuleStatement } from './hcl-rules.ts';

/** A rule's policy. `list` (keys only) allows listing and reading, not writing. */
export type RuleLevel = 'read' | 'write' | 'deny' | 'list';

/** Kinds whose rules name a resource (exactly, or by prefix with `<kind>_prefix`). */
export type NamedKind = 'key' | 'service' | 'node' | 'session';

/** One named rule: `key_prefix "app/" { policy = "write" }` is `{ key, "app/", prefix }`. */
export interface Grant {
  kind: NamedKind;
  name: string;
  prefix: boolean;
  level: RuleLevel;
}

/** The parsed rules of one policy (or one token's inline rules). */
export interface PolicyRules {
  grants: Grant[];
  operator?: RuleLevel;
  acl?: RuleLevel;
}

const namedKinds: ReadonlySet<string> = new Set(['key', 'service', 'node', 'session']);
/** Whole-system kinds Causeway enforces. */
const enforcedSingles: ReadonlySet<string> = new Set(['operator', 'acl']);
/** Whole-system kinds Consul has and Causeway validates but does not enforce. */
const otherSingles: ReadonlySet<string> = new Set(['keyring', 'mesh', 'peering']);

function isLevel(value: string, allowList: boolean): value is RuleLevel {
  return (
    value === 'read' || value === 'write' || value === 'deny' || (allowList && value === 'list')
  );
}

function levelError(what: string, value: unknown, allowList: boolean, field: string): never {
  const allowed = allowList ? 'read, write, deny or list' : 'read, write or deny';
  throw new InvalidArgumentError(
    `Invalid ${what}: ${JSON.stringify(value)} (must be ${allowed})`,
    field,
  );
}

/**
 * Parse a policy's `Rules` text: JSON when it starts with `{`, the HCL subset otherwise.
 * An empty text grants nothing. Bad rules are a 400 naming `field`.
 */
export function parseRules(text: string, field = 'Rules'): PolicyRules {
  const trimmed = text.trim();
  if (trimmed === '') return { grants: [] };
  let statements: RuleStatement[];
  if (trimmed.startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(trimmed);
    } catch (err) {
      throw new InvalidArgumentError(
        `Failed to parse ACL rules: invalid JSON: ${(err as Error).message}`,
        field,
      );
    }
    statements = statementsFromJson(doc, field);
  } else {
    statements = parseHclRules(text, field);
  }
  return rulesFromStatements(statements, field);
}

/**
 * HCL's JSON form: `{"kind": {"label": {attrs}}}`, where any object may also be a list of
 * objects (`"key_prefix": [{"a/": [{"policy": "read"}]}]`), as HCL's decoder allows.
 */
function statementsFromJson(doc: unknown, field: string): RuleStatement[] {
  const objects = (v: unknown, where: string): Record<string, unknown>[] => {
    const list = Array.isArray(v) ? (v as unknown[]) : [v];
    return list.map((o) => {
      if (typeof o !== 'object' || o === null || Array.isArray(o)) {
        throw new InvalidArgumentError(
          `Failed to parse ACL rules: ${where} must be an object`,
          field,
        );
      }
      return o as Record<string, unknown>;
    });
  };
  const attrs = (body: Record<string, unknown>): RuleStatement[] =>
    Object.entries(body).flatMap(([name, value]): RuleStatement[] =>
      typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
        ? [{ type: 'attr', name, value: String(value) }]
        : [],
    );
  const out: RuleStatement[] = [];
  for (const top of objects(doc, 'the rules document')) {
    for (const [name, value] of Object.entries(top)) {
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        out.push({ type: 'attr', name, value: String(value) });
        continue;
      }
      for (const byLabel of objects(value, JSON.stringify(name))) {
        for (const [label, body] of Object.entries(byLabel)) {
          for (const b of objects(body, `${name} ${JSON.stringify(label)}`)) {
            out.push({ type: 'block', name, labels: [label], body: attrs(b) });
          }
        }
      }
    }
  }
  return out;
}

function rulesFromStatements(statements: RuleStatement[], field: string): PolicyRules {
  const rules: PolicyRules = { grants: [] };
  for (const s of statements) {
    if (s.type === 'attr') {
      if (enforcedSingles.has(s.name) || otherSingles.has(s.name)) {
        if (s.value === '') continue;
        if (!isLevel(s.value, false)) levelError(`${s.name} policy`, s.value, false, field);
        if (s.name === 'operator' || s.name === 'acl') rules[s.name] = s.value;
      }
      continue;
    }
    const prefix = s.name.endsWith('_prefix');
    const kind = prefix ? s.name.slice(0, -'_prefix'.length) : s.name;
    if (!namedKinds.has(kind)) continue;
    if (s.labels.length !== 1) {
      throw new InvalidArgumentError(
        `Failed to parse ACL rules: ${s.name} needs exactly one name, as in ${s.name} "name" { policy = "read" }`,
        field,
      );
    }
    const name = s.labels[0] as string;
    const attr = (n: string): string | undefined => {
      const found = s.body.filter((b) => b.type === 'attr' && b.name === n);
      const last = found[found.length - 1];
      return last?.type === 'attr' ? last.value : undefined;
    };
    const allowList = kind === 'key';
    const level = attr('policy') ?? '';
    const what = `${s.name} policy for ${JSON.stringify(name)}`;
    if (!isLevel(level, allowList)) levelError(what, level, allowList, field);
    const intentions = attr('intentions');
    if (kind === 'service' && intentions !== undefined && !isLevel(intentions, false)) {
      levelError(`service intentions policy for ${JSON.stringify(name)}`, intentions, false, field);
    }
    rules.grants.push({ kind: kind as NamedKind, name, prefix, level });
  }
  return rules;
}

/**
 * An {@link Authorizer} compiled from a token's rules, deciding as Consul does
 * (`acl/policy_authorizer.go`):
 *
 * - an exact rule (`key "app/x"`) beats any prefix rule for that name;
 * - otherwise the longest matching prefix rule (`key_prefix "app/"`) decides — a shorter
 *   prefix is never consulted, so `key_prefix "app/secret/" { policy = "read" }` denies
 *   writes under it even when `key_prefix "app/"` allows them;
 * - rules for the same name and kind from several policies merge with deny over write
 *   over list over read;
 * - write implies read, `list` allows reads; no matching rule denies (default deny);
 * - a write to every key under a prefix (`KeyWritePrefix`) needs write on the prefix and
 *   no rule under it that grants less.
 */
import type { Access, Authorizer, ResourceKind } from './authorizer.ts';
import type { NamedKind, PolicyRules, RuleLevel } from './rules.ts';

const precedence: Record<RuleLevel, number> = { read: 1, list: 2, write: 3, deny: 4 };

function merge(a: RuleLevel | undefined, b: RuleLevel): RuleLevel {
  return a !== undefined && precedence[a] >= precedence[b] ? a : b;
}

function levelAllows(level: RuleLevel | undefined, access: Access): boolean {
  if (level === 'write') return true;
  if (level === 'read' || level === 'list') return access === 'read';
  return false;
}

/** The merged rules of one kind: exact names, and prefixes longest first. */
class KindRules {
  readonly exact = new Map<string, RuleLevel>();
  private readonly prefixMap = new Map<string, RuleLevel>();
  private sorted: [string, RuleLevel][] | undefined;

  add(name: string, prefix: boolean, level: RuleLevel): void {
    const map = prefix ? this.prefixMap : this.exact;
    map.set(name, merge(map.get(name), level));
    this.sorted = undefined;
  }

  /** The rule for `prefix` grants write and no rule for a name under it grants less. */
  writePrefix(prefix: string): boolean {
    if (!levelAllows(this.lookup(prefix), 'write')) return false;
    for (const map of [this.exact, this.prefixMap]) {
      for (const [name, level] of map) {
        if (name.startsWith(prefix) && level !== 'write') return false;
      }
    }
    return true;
  }

  lookup(name: string): RuleLevel | undefined {
    const exact = this.exact.get(name);
    if (exact !== undefined) return exact;
    this.sorted ??= [...this.prefixMap].sort((a, b) => b[0].length - a[0].length);
    for (const [prefix, level] of this.sorted) {
      if (name.startsWith(prefix)) return level;
    }
    return undefined;
  }
}

export class RulesAuthorizer implements Authorizer {
  private readonly kinds = new Map<NamedKind, KindRules>();
  private operator: RuleLevel | undefined;
  private acl: RuleLevel | undefined;

  /** @param rules - every policy of the token, in any order (merging is order-free). */
  constructor(
    readonly accessorId: string,
    rules: readonly PolicyRules[],
  ) {
    for (const r of rules) {
      for (const g of r.grants) {
        let kind = this.kinds.get(g.kind);
        if (!kind) this.kinds.set(g.kind, (kind = new KindRules()));
        kind.add(g.name, g.prefix, g.level);
      }
      if (r.operator !== undefined) this.operator = merge(this.operator, r.operator);
      if (r.acl !== undefined) this.acl = merge(this.acl, r.acl);
    }
  }

  allows(kind: ResourceKind, name: string, access: Access): boolean {
    if (kind === 'operator') return levelAllows(this.operator, access);
    if (kind === 'acl') return levelAllows(this.acl, access);
    return levelAllows(this.kinds.get(kind)?.lookup(name), access);
  }

  allowsKeyWritePrefix(prefix: string): boolean {
    return this.kinds.get('key')?.writePrefix(prefix) ?? false;
  }
}

/** A token linked to the builtin global-management policy may do anything. */
export function managementAuthorizer(accessorId: string): Authorizer {
  return { accessorId, allows: () => true, allowsKeyWritePrefix: () => true };
}

/**
 * Global policies: config entries written at the global control plane and applied in
 * every zone (Kuma's global policies; Consul's config entries replicated from the primary
 * datacenter). They live in the global's store exactly as a zone keeps its entries
 * (`config/<kind>/<namespace>/<name>`), and go to every zone as `policy` resources (see
 * `policy-index.ts`), where each zone applies them like its own entries and holds them
 * read-only.
 *
 * Only the kinds in {@link GLOBAL_POLICY_KINDS}: `exported-services` stays per zone.
 */
import {
  GLOBAL_POLICY_KINDS,
  InvalidArgumentError,
  checkKind,
  checkPolicyMeta,
  decodeConfigEntry,
  deleteConfigEntry,
  listConfigEntries,
  readConfigEntry,
  writeConfigEntry,
} from '../../../core/index.ts';
import type { Store, StoredConfigEntry } from '../../../core/index.ts';

type PolicyKind = (typeof GLOBAL_POLICY_KINDS)[number];

/** A kind global holds as a policy; names the field and says why otherwise. */
export function policyKind(kind: string, field: string): PolicyKind {
  const checked = checkKind(kind, field);
  if (!(GLOBAL_POLICY_KINDS as readonly string[]).includes(checked)) {
    throw new InvalidArgumentError(
      `${checked} is not a global policy kind: each zone decides what it exports, so write it at each zone (global policies: ${GLOBAL_POLICY_KINDS.join(', ')})`,
      field,
    );
  }
  return checked as PolicyKind;
}

export class GlobalPolicies {
  constructor(private readonly store: Store) {}

  /** Create or replace a policy; with `cas`, only if its ModifyIndex is `cas` (0: absent). */
  async put(body: unknown, cas?: number): Promise<{ ok: boolean; index: number }> {
    const entry = decodeConfigEntry(body);
    policyKind(entry.Kind, 'Kind');
    checkPolicyMeta(entry.Meta);
    return writeConfigEntry(this.store, entry, cas);
  }

  get(kind: string, namespace: string, name: string): Promise<StoredConfigEntry | null> {
    return readConfigEntry(this.store, policyKind(kind, 'kind'), namespace, name);
  }

  /** Every policy (of one kind), in key order. */
  async list(kind?: string): Promise<StoredConfigEntry[]> {
    if (kind !== undefined) {
      return (await listConfigEntries(this.store, policyKind(kind, 'kind'))).entries;
    }
    const out: StoredConfigEntry[] = [];
    for (const k of GLOBAL_POLICY_KINDS)
      out.push(...(await listConfigEntries(this.store, k)).entries);
    return out;
  }

  /** Delete a policy; with `cas`, only if its ModifyIndex matches (false otherwise). */
  delete(kind: string, namespace: string, name: string, cas?: number): Promise<boolean> {
    return deleteConfigEntry(this.store, policyKind(kind, 'kind'), namespace, name, cas);
  }
}

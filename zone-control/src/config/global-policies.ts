/**
 * Global policies at a zone: config entries written at the global control plane and
 * applied in every zone. Zone sync stores each at `sync/global/policy/<kind>/<ns>/<name>`
 * and, in the same transaction, projects it to the zone's own `config/<kind>/<ns>/<name>`,
 * where proxy snapshots, exports and `/v1/config` already read config entries. So a
 * global policy works exactly like a local entry, and replaces a local one of the same
 * kind, namespace and name while it exists (global wins, as in Kuma); the local one is
 * kept aside and comes back when global deletes the policy.
 *
 * The zone holds a global policy read-only: writing or deleting it through `/v1/config`
 * is refused, in a transaction guarded on the sync record, so a policy arriving at the
 * same moment cannot be overwritten either.
 */
import {
  ConflictError,
  POLICY_ORIGIN_META,
  configEntryKey,
  decodeConfigEntry,
  globalResourcePrefix,
  policyResourceName,
} from '../../../core/index.ts';
import type {
  ConfigEntry,
  ConfigEntryKind,
  PolicyResource,
  ResourceProjection,
  Store,
  TxnOp,
} from '../../../core/index.ts';

/** Meta a global policy carries at a zone, so `/v1/config` readers can tell it apart. */
export const ORIGIN_META = POLICY_ORIGIN_META;

/** Where zone sync keeps the global policy of an entry key. */
export function globalPolicyKey(kind: string, namespace: string, name: string): string {
  return globalResourcePrefix('policy') + policyResourceName(kind, namespace, name);
}

/** Where a zone entry a global policy replaced waits to come back (`<kind>/<ns>/<name>`). */
export const SHADOWED_PREFIX = 'sync/shadowed-config/';

function isGlobalOrigin(value: Buffer): boolean {
  try {
    const stored = JSON.parse(value.toString()) as { Meta?: Record<string, string> };
    return stored.Meta?.[ORIGIN_META] === 'global';
  } catch {
    return false;
  }
}

/**
 * The inbox projection of `policy` resources onto the zone's config entries. A zone entry
 * a policy replaces is kept aside and restored when global deletes the policy: global wins
 * while the policy exists, and the zone loses nothing.
 */
export function policyProjection(store: Store): ResourceProjection {
  return {
    async upsert(name, body) {
      const policy = body as PolicyResource;
      // Stored as `/v1/config` stores an entry: decoded and normalised (the validator
      // already checked it decodes).
      const entry = decodeConfigEntry(policy.entry);
      const value = { ...entry, Meta: { ...entry.Meta, [ORIGIN_META]: 'global' } };
      const key = configEntryKey(entry.Kind, entry.Namespace, entry.Name);
      const current = await store.get(key);
      const ops: TxnOp[] = [
        // What was read is what is replaced: a zone write in between fails the delta
        // (a NACK), and global's next attempt reads again.
        current
          ? { op: 'check-index', key, index: current.modifyIndex }
          : { op: 'check-not-exists', key },
      ];
      if (current && !isGlobalOrigin(current.value)) {
        ops.push({ op: 'set', key: SHADOWED_PREFIX + name, value: current.value });
      }
      ops.push({ op: 'set', key, value: Buffer.from(JSON.stringify(value)) });
      return ops;
    },
    async remove(name) {
      // Names are `<kind>/<namespace>/<name>`, the entry key's own suffix.
      const key = `config/${name}`;
      const shadowed = await store.get(SHADOWED_PREFIX + name);
      if (!shadowed) return [{ op: 'delete', key }];
      return [
        { op: 'set', key, value: shadowed.value },
        { op: 'delete', key: SHADOWED_PREFIX + name },
      ];
    },
  };
}

function globalPolicyError(kind: string, namespace: string, name: string): ConflictError {
  return new ConflictError(
    `Config entry ${kind}/${namespace}/${name} is a global policy: change it at the global control plane (PUT /api/policies there); zones hold it read-only`,
    'Name',
  );
}

/**
 * Write a zone entry unless a global policy holds its key; with `cas`, only if the stored
 * entry's ModifyIndex is `cas` (0: only when absent). Answers Consul's true/false.
 */
export async function writeZoneConfigEntry(
  store: Store,
  entry: ConfigEntry,
  cas?: number,
): Promise<boolean> {
  const key = configEntryKey(entry.Kind, entry.Namespace, entry.Name);
  const value = Buffer.from(JSON.stringify(entry));
  const write: TxnOp =
    cas === undefined ? { op: 'set', key, value } : { op: 'cas', key, value, index: cas };
  return guarded(store, entry.Kind, entry.Namespace, entry.Name, write);
}

/** Delete a zone entry unless a global policy holds its key; true/false as Consul's CAS. */
export async function deleteZoneConfigEntry(
  store: Store,
  kind: ConfigEntryKind,
  namespace: string,
  name: string,
  cas?: number,
): Promise<boolean> {
  const key = configEntryKey(kind, namespace, name);
  if (cas !== undefined) {
    // As Consul's DeleteConfigEntryCAS: a missing entry is a false, not a deletion.
    const current = await store.get(key);
    if (!current || current.modifyIndex !== cas) {
      await refuseGlobal(store, kind, namespace, name);
      return false;
    }
  }
  const op: TxnOp =
    cas === undefined ? { op: 'delete', key } : { op: 'delete-cas', key, index: cas };
  return guarded(store, kind, namespace, name, op);
}

async function guarded(
  store: Store,
  kind: string,
  namespace: string,
  name: string,
  op: TxnOp,
): Promise<boolean> {
  const result = await store.txn([
    { op: 'check-not-exists', key: globalPolicyKey(kind, namespace, name) },
    op,
  ]);
  if (result.ok) return true;
  if (result.errors.some((e) => e.opIndex === 0)) throw globalPolicyError(kind, namespace, name);
  return false;
}

async function refuseGlobal(
  store: Store,
  kind: string,
  namespace: string,
  name: string,
): Promise<void> {
  if (await store.get(globalPolicyKey(kind, namespace, name))) {
    throw globalPolicyError(kind, namespace, name);
  }
}

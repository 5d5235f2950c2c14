/**
 * Global policies at a zone: config entries written at the global control plane and
 * applied in every zone. Zone sync stores each at `sync/global/policy/<kind>/<ns>/<name>`
 * and, in the same transaction, projects it to the zone's own `config/<kind>/<ns>/<name>`,
 * where proxy snapshots, exports and `/v1/config` already read config entries. So a
 * global policy works exactly like a local entry, and replaces a local one of the same
 * kind, namespace and name (global wins, as in Kuma).
 *
 * The zone holds a global policy read-only: writing or deleting it through `/v1/config`
 * is refused, in a transaction guarded on the sync record, so a policy arriving at the
 * same moment cannot be overwritten either.
 */
import {
  ConflictError,
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
export const ORIGIN_META = 'causeway-origin';

/** Where zone sync keeps the global policy of an entry key. */
export function globalPolicyKey(kind: string, namespace: string, name: string): string {
  return globalResourcePrefix('policy') + policyResourceName(kind, namespace, name);
}

/** The inbox projection of `policy` resources onto the zone's config entries. */
export function policyProjection(): ResourceProjection {
  return {
    upsert(_name, body) {
      const policy = body as PolicyResource;
      // Stored as `/v1/config` stores an entry: decoded and normalised (the validator
      // already checked it decodes).
      const entry = decodeConfigEntry(policy.entry);
      const value = { ...entry, Meta: { ...entry.Meta, [ORIGIN_META]: 'global' } };
      return [
        {
          op: 'set',
          key: configEntryKey(entry.Kind, entry.Namespace, entry.Name),
          value: Buffer.from(JSON.stringify(value)),
        },
      ];
    },
    remove(name) {
      // Names are `<kind>/<namespace>/<name>`, the entry key's own suffix.
      return Promise.resolve([{ op: 'delete', key: `config/${name}` }]);
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

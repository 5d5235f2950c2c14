/**
 * Stored ACL records → the JSON Consul answers (`agent/structs/acl.go`: `ACLToken`,
 * `ACLTokenListStub`, `ACLPolicy`, `ACLPolicyListStub`), field for field and in Consul's
 * order. `Hash` is a SHA-256 of the record's meaningful fields (Consul uses BLAKE2b; clients
 * treat it as opaque).
 */
import { createHash } from 'node:crypto';
import type { PolicyRecord, Stored, TokenRecord } from './acl-records.ts';

/** Policy ID → policy, to show each link's current name (a renamed policy shows its new name). */
export type PolicyIndex = ReadonlyMap<string, PolicyRecord>;

function hashOf(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64');
}

export function tokenHash(t: TokenRecord): string {
  return hashOf([
    t.description,
    t.policyIds,
    t.serviceIdentities,
    t.nodeIdentities,
    t.rules,
    t.local,
    t.expirationTime ?? null,
  ]);
}

/** Links to deleted policies are dropped, as Consul's state store does on read. */
function policyLinks(t: TokenRecord, policies: PolicyIndex): { ID: string; Name: string }[] {
  return t.policyIds.flatMap((id) => {
    const p = policies.get(id);
    return p ? [{ ID: id, Name: p.name }] : [];
  });
}

/**
 * A token as `GET /v1/acl/token/:id` answers it. `secretId` is the real secret only where
 * the caller has it (creation, bootstrap, `self`); otherwise `"<hidden>"`.
 */
export function tokenShape(
  stored: Stored<TokenRecord>,
  policies: PolicyIndex,
  secretId: string,
): Record<string, unknown> {
  const t = stored.record;
  const links = policyLinks(t, policies);
  return {
    AccessorID: t.accessorId,
    SecretID: secretId,
    Description: t.description,
    ...(links.length > 0 ? { Policies: links } : {}),
    ...(t.serviceIdentities.length > 0 ? { ServiceIdentities: t.serviceIdentities } : {}),
    ...(t.nodeIdentities.length > 0 ? { NodeIdentities: t.nodeIdentities } : {}),
    ...(t.rules !== '' ? { Rules: t.rules } : {}),
    Local: t.local,
    ...(t.expirationTime !== undefined ? { ExpirationTime: t.expirationTime } : {}),
    CreateTime: t.createTime,
    Hash: tokenHash(t),
    CreateIndex: stored.createIndex,
    ModifyIndex: stored.modifyIndex,
  };
}

/** A token as `GET /v1/acl/tokens` lists it: no `Rules`, and `Policies` null rather than absent. */
export function tokenStub(
  stored: Stored<TokenRecord>,
  policies: PolicyIndex,
  secretId: string,
): Record<string, unknown> {
  const { Rules: _rules, Policies, ...rest } = tokenShape(stored, policies, secretId);
  return { ...rest, Policies: Policies ?? null };
}

export function policyHash(p: PolicyRecord): string {
  return hashOf([p.name, p.description, p.rules, p.datacenters]);
}

export function policyShape(stored: Stored<PolicyRecord>): Record<string, unknown> {
  const p = stored.record;
  return {
    ID: p.id,
    Name: p.name,
    Description: p.description,
    Rules: p.rules,
    Datacenters: p.datacenters.length > 0 ? p.datacenters : null,
    Hash: policyHash(p),
    CreateIndex: stored.createIndex,
    ModifyIndex: stored.modifyIndex,
  };
}

export function policyStub(stored: Stored<PolicyRecord>): Record<string, unknown> {
  const p = stored.record;
  return {
    ID: p.id,
    Name: p.name,
    Description: p.description,
    Datacenters: p.datacenters.length > 0 ? p.datacenters : null,
    Hash: policyHash(p),
    CreateIndex: stored.createIndex,
    ModifyIndex: stored.modifyIndex,
  };
}

/**
 * Creating, updating and deleting tokens with Consul's rules and messages
 * (`agent/consul/acl_endpoint.go`, `tokenSetInternal` / `TokenDelete`). Every write is one
 * store transaction that also checks the linked policies still exist, so a token never
 * half-exists (a record without its secret link, or the reverse).
 *
 * Consul answers most of these validation failures with a 500; Causeway answers 400 (409
 * for IDs and secrets already in use, 404 for a missing token) with the same text.
 */
import { randomUUID } from 'node:crypto';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../../core/index.ts';
import type { Store, TxnOp } from '../../../core/index.ts';
import { ANONYMOUS_TOKEN_ID } from './authorizer.ts';
import {
  RESERVED_ID_PREFIX,
  hashSecret,
  isExpired,
  isUuid,
  json,
  policyKey,
  readPolicy,
  readPolicyByName,
  readToken,
  readTokenBySecret,
  secretKeyOfHash,
  tokenKey,
} from './acl-records.ts';
import type { PolicyRecord, Stored, TokenRecord } from './acl-records.ts';
import type { TokenInput } from './acl-input.ts';
import { parseRules } from './rules.ts';

const MIN_TTL_MS = 60_000;
const MAX_TTL_MS = 24 * 3_600_000;
const identityName = /^[a-z0-9]([a-z0-9\-_]*[a-z0-9])?$/;
const MAX_ATTEMPTS = 5;

const bad = (message: string, field: string): never => {
  throw new InvalidArgumentError(message, field);
};

function goDuration(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
}

/** The policies a token links, resolved to IDs, with a txn check that each still exists. */
async function resolvePolicies(
  store: Store,
  input: TokenInput,
): Promise<{ ids: string[]; policies: Stored<PolicyRecord>[] }> {
  const ids: string[] = [];
  const policies: Stored<PolicyRecord>[] = [];
  for (const [i, link] of input.policies.entries()) {
    const found = link.id
      ? await readPolicy(store, link.id)
      : await readPolicyByName(store, link.name ?? '');
    if (!found) {
      return bad(
        link.id
          ? `No such ACL policy with ID ${JSON.stringify(link.id)}`
          : `No such ACL policy with name ${JSON.stringify(link.name ?? '')}`,
        `Policies[${i}]`,
      );
    }
    if (!ids.includes(found.record.id)) {
      ids.push(found.record.id);
      policies.push(found);
    }
  }
  return { ids, policies };
}

/** Field checks shared by create and update; returns the parts of the record they decide. */
function checkBody(
  input: TokenInput,
): Pick<TokenRecord, 'serviceIdentities' | 'nodeIdentities' | 'rules'> {
  for (const [i, role] of input.roles.entries()) {
    bad(
      role.id
        ? `No such ACL role with ID ${JSON.stringify(role.id)}`
        : `No such ACL role with name ${JSON.stringify(role.name ?? '')}`,
      `Roles[${i}]`,
    );
  }
  if (input.type !== undefined) bad('Type cannot be specified for this token', 'Type');
  const services = new Map<string, TokenRecord['serviceIdentities'][number]>();
  for (const [i, s] of input.serviceIdentities.entries()) {
    const field = `ServiceIdentities[${i}].ServiceName`;
    if (s.ServiceName === '')
      bad('Service identity is missing the service name field on this token', field);
    if (!identityName.test(s.ServiceName) || s.ServiceName.length > 256) {
      bad(
        `Service identity ${JSON.stringify(s.ServiceName)} has an invalid name. Only alphanumeric characters, '-' and '_' are allowed`,
        field,
      );
    }
    if (input.local && s.Datacenters !== undefined) {
      bad(
        `Service identity ${JSON.stringify(s.ServiceName)} cannot specify a list of datacenters on a local token`,
        `ServiceIdentities[${i}].Datacenters`,
      );
    }
    services.set(s.ServiceName, s);
  }
  const nodes = new Map<string, TokenRecord['nodeIdentities'][number]>();
  for (const [i, n] of input.nodeIdentities.entries()) {
    const field = `NodeIdentities[${i}]`;
    if (n.NodeName === '')
      bad('Node identity is missing the node name field on this token', `${field}.NodeName`);
    if (n.Datacenter === '')
      bad('Node identity is missing the datacenter field on this token', `${field}.Datacenter`);
    if (!identityName.test(n.NodeName) || n.NodeName.length > 256) {
      bad(
        "Node identity has an invalid name. Only alphanumeric characters, '-' and '_' are allowed",
        `${field}.NodeName`,
      );
    }
    nodes.set(`${n.NodeName}\u0000${n.Datacenter}`, n);
  }
  parseRules(input.rules, 'Rules');
  return {
    serviceIdentities: [...services.values()],
    nodeIdentities: [...nodes.values()],
    rules: input.rules,
  };
}

function checkNewId(id: string, what: 'AccessorID' | 'SecretID'): void {
  if (!isUuid(id)) bad(`Invalid Token: ${what} is not a valid UUID`, what);
  if (id.startsWith(RESERVED_ID_PREFIX)) {
    bad(
      `Invalid Token: UUIDs with the prefix ${JSON.stringify(RESERVED_ID_PREFIX)} are reserved`,
      what,
    );
  }
}

function expiration(input: TokenInput, createMs: number): string | undefined {
  let expires = input.expirationTime === undefined ? undefined : Date.parse(input.expirationTime);
  if (input.expirationTtlMs !== undefined) {
    if (input.expirationTtlMs < 0) {
      bad(
        `Token Expiration TTL '${goDuration(-input.expirationTtlMs)}' should be > 0`,
        'ExpirationTTL',
      );
    }
    if (expires !== undefined)
      bad('Token Expiration TTL and Expiration Time cannot both be set', 'ExpirationTTL');
    expires = createMs + input.expirationTtlMs;
  }
  if (expires === undefined) return undefined;
  const field = input.expirationTtlMs !== undefined ? 'ExpirationTTL' : 'ExpirationTime';
  const inMs = expires - createMs;
  if (inMs < 0) bad('ExpirationTime cannot be before CreateTime', field);
  if (inMs > MAX_TTL_MS)
    bad(
      `ExpirationTime cannot be more than 24h0m0s in the future (was ${goDuration(inMs)})`,
      field,
    );
  if (inMs < MIN_TTL_MS)
    bad(`ExpirationTime cannot be less than 1m0s in the future (was ${goDuration(inMs)})`, field);
  return new Date(expires).toISOString();
}

function policyChecks(policies: Stored<PolicyRecord>[]): TxnOp[] {
  return policies.map((p) => ({
    op: 'check-index',
    key: policyKey(p.record.id),
    index: p.modifyIndex,
  }));
}

/** Make a token; answers its record and the SecretID (shown this once). */
export async function createToken(
  store: Store,
  input: TokenInput,
): Promise<{ stored: Stored<TokenRecord>; secretId: string; policies: Stored<PolicyRecord>[] }> {
  if (input.authMethod !== undefined)
    bad('AuthMethod field is disallowed outside of Login', 'AuthMethod');
  const checked = checkBody(input);
  const accessorId = input.accessorId ?? randomUUID();
  const secretId = input.secretId ?? randomUUID();
  if (input.accessorId !== undefined) checkNewId(accessorId, 'AccessorID');
  if (input.secretId !== undefined) checkNewId(secretId, 'SecretID');
  // Consul also keeps the two ID spaces apart, so no string is both a secret and an accessor.
  if ((await readToken(store, accessorId)) || (await readTokenBySecret(store, accessorId))) {
    throw new ConflictError('Invalid Token: AccessorID is already in use', 'AccessorID');
  }
  if ((await readTokenBySecret(store, secretId)) || (await readToken(store, secretId))) {
    throw new ConflictError('Invalid Token: SecretID is already in use', 'SecretID');
  }
  const now = Date.now();
  const { ids, policies } = await resolvePolicies(store, input);
  const record: TokenRecord = {
    accessorId,
    secretHash: hashSecret(secretId),
    description: input.description,
    policyIds: ids,
    ...checked,
    local: input.local,
    createTime: new Date(now).toISOString(),
  };
  const expires = expiration(input, now);
  if (expires !== undefined) record.expirationTime = expires;
  const result = await store.txn([
    { op: 'check-not-exists', key: tokenKey(accessorId) },
    { op: 'check-not-exists', key: secretKeyOfHash(record.secretHash) },
    ...policyChecks(policies),
    { op: 'set', key: tokenKey(accessorId), value: json(record) },
    { op: 'set', key: secretKeyOfHash(record.secretHash), value: Buffer.from(accessorId) },
  ]);
  if (!result.ok) {
    // Lost a race with another writer: answer as if we had seen it first.
    const op = result.errors[0]?.opIndex ?? 0;
    if (op === 0)
      throw new ConflictError('Invalid Token: AccessorID is already in use', 'AccessorID');
    if (op === 1) throw new ConflictError('Invalid Token: SecretID is already in use', 'SecretID');
    throw new ConflictError(
      'a linked policy changed while the token was written; retry',
      'Policies',
    );
  }
  const entry = result.results[2 + policies.length] as { createIndex: number; modifyIndex: number };
  return {
    stored: { record, createIndex: entry.createIndex, modifyIndex: entry.modifyIndex },
    secretId,
    policies,
  };
}

/** Replace a token's description, links and rules; its IDs, locality and expiry stay. */
export async function updateToken(
  store: Store,
  accessorId: string,
  input: TokenInput,
): Promise<{ stored: Stored<TokenRecord>; policies: Stored<PolicyRecord>[] }> {
  if (!isUuid(accessorId)) bad('AccessorID is not a valid UUID', 'AccessorID');
  if (input.accessorId !== undefined && input.accessorId !== accessorId) {
    bad('Token Accessor ID in URL and payload do not match', 'AccessorID');
  }
  for (let attempt = 1; ; attempt++) {
    const existing = await readToken(store, accessorId);
    if (!existing || isExpired(existing.record)) {
      throw new NotFoundError(`Cannot find token ${JSON.stringify(accessorId)}`, 'AccessorID');
    }
    const old = existing.record;
    if (input.secretId !== undefined && hashSecret(input.secretId) !== old.secretHash) {
      bad('Changing a tokens SecretID is not permitted', 'SecretID');
    }
    if (input.local !== old.local) bad(`cannot toggle local mode of ${accessorId}`, 'Local');
    if (input.authMethod !== undefined)
      bad(`Cannot change AuthMethod of ${accessorId}`, 'AuthMethod');
    if (
      input.expirationTtlMs !== undefined ||
      (input.expirationTime !== undefined && input.expirationTime !== old.expirationTime)
    ) {
      bad(`Cannot change expiration time of ${accessorId}`, 'ExpirationTime');
    }
    const checked = checkBody(input);
    const { ids, policies } = await resolvePolicies(store, input);
    const record: TokenRecord = {
      ...old,
      description: input.description,
      policyIds: ids,
      ...checked,
    };
    const result = await store.txn([
      { op: 'check-index', key: tokenKey(accessorId), index: existing.modifyIndex },
      ...policyChecks(policies),
      { op: 'set', key: tokenKey(accessorId), value: json(record) },
    ]);
    if (result.ok) {
      const entry = result.results[1 + policies.length] as { modifyIndex: number };
      return {
        stored: { record, createIndex: existing.createIndex, modifyIndex: entry.modifyIndex },
        policies,
      };
    }
    // Consul's token writes are last-writer-wins: re-read and apply again.
    if (attempt >= MAX_ATTEMPTS) {
      throw new ConflictError(
        `token ${accessorId} kept changing while it was updated; retry`,
        'AccessorID',
      );
    }
  }
}

/** Delete a token by AccessorID; the anonymous token and the caller's own are kept. */
export async function deleteToken(
  store: Store,
  accessorId: string,
  callerAccessorId: string,
): Promise<void> {
  if (!isUuid(accessorId)) bad('Accessor ID is missing or an invalid UUID', 'AccessorID');
  if (accessorId.toLowerCase() === ANONYMOUS_TOKEN_ID) {
    bad('Delete operation not permitted on the anonymous token', 'AccessorID');
  }
  const existing = await readToken(store, accessorId);
  if (!existing) throw new NotFoundError('Cannot find token to delete', 'AccessorID');
  if (accessorId === callerAccessorId) {
    bad("Deletion of the request's authorization token is not permitted", 'AccessorID');
  }
  await store.txn([
    { op: 'delete', key: tokenKey(accessorId) },
    { op: 'delete', key: secretKeyOfHash(existing.record.secretHash) },
  ]);
}

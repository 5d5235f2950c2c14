/**
 * How ACL tokens and policies live in the store, and the builtin records.
 *
 * Layout (values are JSON):
 * - `acl/token/<accessorId>` → {@link TokenRecord}
 * - `acl/secret/<sha256(secretId) hex>` → the accessor ID, so a request's secret finds its
 *   token with two point reads. Only the hash of a secret is stored: a copy of the store (a
 *   backup, a Redis replica) does not hand out working tokens. The API shows a SecretID
 *   once, when the token is made; later reads answer `"<hidden>"` (see docs).
 * - `acl/policy/<id>` → {@link PolicyRecord}; `acl/policy-name/<name>` → the policy ID,
 *   which makes names unique inside a transaction.
 * - `acl/bootstrap` → `{"AccessorID": …}`, written once; its presence means bootstrap is
 *   done (Consul's bootstrap index).
 */
import { createHash } from 'node:crypto';
import { CorruptDataError } from '../../../core/index.ts';
import type { Entry, Store } from '../../../core/index.ts';

export const ACL_PREFIX = 'acl/';
export const BOOTSTRAP_KEY = 'acl/bootstrap';
export const TOKEN_PREFIX = 'acl/token/';
export const POLICY_PREFIX = 'acl/policy/';

/** Consul's builtin IDs and names (`agent/structs/acl.go`). */
export const GLOBAL_MANAGEMENT_ID = '00000000-0000-0000-0000-000000000001';
export const GLOBAL_MANAGEMENT_NAME = 'global-management';
/** The anonymous token's well-known SecretID. */
export const ANONYMOUS_SECRET = 'anonymous';
/** What reads show instead of a SecretID (Consul's redaction placeholder). */
export const HIDDEN_SECRET = '<hidden>';
/** IDs starting with this are Consul's builtins; users may not create them. */
export const RESERVED_ID_PREFIX = '00000000-0000-0000-0000-0000000000';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(text: string): boolean {
  return uuidPattern.test(text);
}

export interface ServiceIdentity {
  ServiceName: string;
  Datacenters?: string[];
}

export interface NodeIdentity {
  NodeName: string;
  Datacenter: string;
}

export interface TokenRecord {
  accessorId: string;
  secretHash: string;
  description: string;
  /** Linked policy IDs; names are looked up when the token is shown. */
  policyIds: string[];
  serviceIdentities: ServiceIdentity[];
  nodeIdentities: NodeIdentity[];
  /** Inline rules (a Causeway extension; Consul's current API has none). */
  rules: string;
  local: boolean;
  /** RFC 3339. */
  createTime: string;
  /** RFC 3339; the token stops working after it. */
  expirationTime?: string;
}

export interface PolicyRecord {
  id: string;
  name: string;
  description: string;
  rules: string;
  /** Zones (Consul datacenters) the policy applies in; empty: everywhere. */
  datacenters: string[];
}

/** A record with the store indexes Consul answers as `CreateIndex` / `ModifyIndex`. */
export interface Stored<T> {
  record: T;
  createIndex: number;
  modifyIndex: number;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export const tokenKey = (accessorId: string): string => `${TOKEN_PREFIX}${accessorId}`;
export const secretKeyOfHash = (hash: string): string => `acl/secret/${hash}`;
export const secretKey = (secret: string): string => secretKeyOfHash(hashSecret(secret));
export const policyKey = (id: string): string => `${POLICY_PREFIX}${id}`;
export const policyNameKey = (name: string): string => `acl/policy-name/${name}`;

export function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function decode<T>(entry: Entry): Stored<T> {
  try {
    return {
      record: JSON.parse(entry.value.toString('utf8')) as T,
      createIndex: entry.createIndex,
      modifyIndex: entry.modifyIndex,
    };
  } catch (err) {
    throw new CorruptDataError(`ACL record ${entry.key} is not valid JSON`, err);
  }
}

export async function readToken(
  store: Store,
  accessorId: string,
): Promise<Stored<TokenRecord> | null> {
  if (!isUuid(accessorId)) return null;
  const entry = await store.get(tokenKey(accessorId));
  return entry ? decode<TokenRecord>(entry) : null;
}

export async function readTokenBySecret(
  store: Store,
  secret: string,
): Promise<Stored<TokenRecord> | null> {
  const link = await store.get(secretKey(secret));
  if (!link) return null;
  const token = await readToken(store, link.value.toString('utf8'));
  // A token is written with its secret link in one transaction; a link whose token is gone
  // (or belongs to another secret) is never trusted.
  return token && token.record.secretHash === hashSecret(secret) ? token : null;
}

export async function readPolicy(store: Store, id: string): Promise<Stored<PolicyRecord> | null> {
  if (!isUuid(id)) return null;
  const entry = await store.get(policyKey(id));
  return entry ? decode<PolicyRecord>(entry) : null;
}

export async function readPolicyByName(
  store: Store,
  name: string,
): Promise<Stored<PolicyRecord> | null> {
  if (!/^[A-Za-z0-9\-_]{1,128}$/.test(name)) return null;
  const link = await store.get(policyNameKey(name));
  return link ? readPolicy(store, link.value.toString('utf8')) : null;
}

export async function listRecords<T>(
  store: Store,
  prefix: string,
): Promise<{ items: Stored<T>[]; index: number }> {
  const { entries, index } = await store.list(prefix);
  return { items: entries.map((e) => decode<T>(e)), index };
}

/** True once the token's expiration time has passed. */
export function isExpired(token: TokenRecord, now = Date.now()): boolean {
  return token.expirationTime !== undefined && Date.parse(token.expirationTime) <= now;
}

/** Consul's builtin policy; its rules cannot change and it cannot be deleted. */
export const GLOBAL_MANAGEMENT_POLICY: PolicyRecord = {
  id: GLOBAL_MANAGEMENT_ID,
  name: GLOBAL_MANAGEMENT_NAME,
  description: 'Builtin Policy that grants unlimited access',
  rules: `
acl = "write"
agent_prefix "" {
\tpolicy = "write"
}
event_prefix "" {
\tpolicy = "write"
}
key_prefix "" {
\tpolicy = "write"
}
keyring = "write"
node_prefix "" {
\tpolicy = "write"
}
operator = "write"
mesh = "write"
peering = "write"
query_prefix "" {
\tpolicy = "write"
}
service_prefix "" {
\tpolicy = "write"
\tintentions = "write"
}
session_prefix "" {
\tpolicy = "write"
}`,
  datacenters: [],
};

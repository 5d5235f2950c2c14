/**
 * Creating, updating and deleting policies with Consul's rules and messages
 * (`agent/consul/acl_endpoint.go`, `PolicySet` / `PolicyDelete`). A policy and its name
 * link change in one transaction, so two writers can never both take a name.
 */
import { randomUUID } from 'node:crypto';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../../core/index.ts';
import type { Store, TxnOp } from '../../../core/index.ts';
import {
  GLOBAL_MANAGEMENT_ID,
  isUuid,
  json,
  policyKey,
  policyNameKey,
  readPolicy,
} from './acl-records.ts';
import type { PolicyRecord, Stored } from './acl-records.ts';
import type { PolicyInput } from './acl-input.ts';
import { parseRules } from './rules.ts';

const validName = /^[A-Za-z0-9\-_]{1,128}$/;

const bad = (message: string, field: string): never => {
  throw new InvalidArgumentError(message, field);
};

function checkCommon(input: PolicyInput): void {
  if (input.name === '') bad('Invalid Policy: no Name is set', 'Name');
  if (!validName.test(input.name)) {
    bad(
      "Invalid Policy: invalid Name. Only alphanumeric characters, '-' and '_' are allowed",
      'Name',
    );
  }
  parseRules(input.rules, 'Rules');
}

function nameTaken(name: string): ConflictError {
  return new ConflictError(
    `Invalid Policy: A Policy with Name ${JSON.stringify(name)} already exists`,
    'Name',
  );
}

export async function createPolicy(
  store: Store,
  input: PolicyInput,
): Promise<Stored<PolicyRecord>> {
  if (input.id !== undefined) bad('Cannot specify the ID when creating a new policy', 'ID');
  checkCommon(input);
  const record: PolicyRecord = {
    id: randomUUID(),
    name: input.name,
    description: input.description,
    rules: input.rules,
    datacenters: input.datacenters,
  };
  const result = await store.txn([
    { op: 'check-not-exists', key: policyNameKey(record.name) },
    { op: 'set', key: policyKey(record.id), value: json(record) },
    { op: 'set', key: policyNameKey(record.name), value: Buffer.from(record.id) },
  ]);
  if (!result.ok) throw nameTaken(record.name);
  const entry = result.results[1] as { createIndex: number; modifyIndex: number };
  return { record, createIndex: entry.createIndex, modifyIndex: entry.modifyIndex };
}

export async function updatePolicy(
  store: Store,
  id: string,
  input: PolicyInput,
): Promise<Stored<PolicyRecord>> {
  if (input.id !== undefined && input.id !== id)
    bad('Policy ID in URL and payload do not match', 'ID');
  if (!isUuid(id)) bad('Policy ID invalid UUID', 'ID');
  checkCommon(input);
  const existing = await readPolicy(store, id);
  if (!existing) throw new NotFoundError(`cannot find policy ${id}`, 'ID');
  const old = existing.record;
  if (id === GLOBAL_MANAGEMENT_ID) {
    if (input.datacenters.length > 0) {
      bad(
        'Changing the Datacenters of the builtin global-management policy is not permitted',
        'Datacenters',
      );
    }
    if (input.rules !== old.rules) {
      bad('Changing the Rules for the builtin global-management policy is not permitted', 'Rules');
    }
  }
  const record: PolicyRecord = {
    ...old,
    name: input.name,
    description: input.description,
    rules: input.rules,
    datacenters: input.datacenters,
  };
  const rename: TxnOp[] =
    old.name === record.name
      ? []
      : [
          { op: 'check-not-exists', key: policyNameKey(record.name) },
          { op: 'delete', key: policyNameKey(old.name) },
          { op: 'set', key: policyNameKey(record.name), value: Buffer.from(id) },
        ];
  const result = await store.txn([
    { op: 'check-index', key: policyKey(id), index: existing.modifyIndex },
    ...rename,
    { op: 'set', key: policyKey(id), value: json(record) },
  ]);
  if (!result.ok) {
    if (result.errors.some((e) => e.opIndex === 1)) throw nameTaken(record.name);
    throw new ConflictError(`policy ${id} changed while it was updated; retry`, 'ID');
  }
  const entry = result.results[result.results.length - 1] as { modifyIndex: number };
  return { record, createIndex: existing.createIndex, modifyIndex: entry.modifyIndex };
}

/** Tokens keep their link to a deleted policy; reads and authorization skip it (as Consul). */
export async function deletePolicy(store: Store, id: string): Promise<void> {
  const existing = await readPolicy(store, id);
  if (!existing) throw new NotFoundError('Cannot find policy to delete', 'ID');
  if (existing.record.id === GLOBAL_MANAGEMENT_ID) {
    bad('Delete operation not permitted on the builtin global-management policy', 'ID');
  }
  await store.txn([
    { op: 'delete', key: policyKey(id) },
    { op: 'delete', key: policyNameKey(existing.record.name) },
  ]);
}

/**
 * Writing the catalog: registrations, deregistrations and check status updates, each one
 * store transaction so nothing is ever half-written.
 *
 * Every write reads what it replaces, refuses (409) to touch a record another registrar
 * owns, and guards each key it writes with its `modifyIndex` (check-and-set). If another
 * writer got in between, the transaction fails as a whole and is planned again from a
 * fresh read. Records that would not change are not written, so re-registering the same
 * thing (agents and watchers do so all the time) never bumps the index and never wakes
 * blocking queries.
 */
import { ConflictError, InvalidArgumentError, NotFoundError } from '../errors.ts';
import { MAX_TXN_OPS } from '../store/types.ts';
import type { Entry, Store, TxnOp } from '../store/types.ts';
import { decodeCheck, decodeInstance, decodeNode, encodeRecord, withoutIndexes } from './codec.ts';
import { checkKey, nodeChecksPrefix, nodeKey, nodeServicesPrefix, serviceKey } from './keys.ts';
import type {
  Deregistration,
  HealthCheck,
  HealthStatus,
  Registration,
  ServiceInstance,
  Source,
  Stored,
} from './types.ts';
import { validateName, validateNode, validateRegistration, validateSource } from './validate.ts';

/** How often a write is planned again after losing a race before giving up with a 409. */
const MAX_ATTEMPTS = 8;

export interface WriteResult {
  /** False when nothing needed writing (the catalog already said so, or nothing was there). */
  changed: boolean;
  /** The index of the write, or the store's index when nothing was written. */
  index: number;
}

/** Same owner: only the registrar that wrote a record may change or remove it. */
export function sameSource(a: Source, b: Source): boolean {
  return a.kind === b.kind && a.owner === b.owner;
}

function refuseOtherOwner(what: string, owner: Source, writer: Source, field?: string): void {
  if (sameSource(owner, writer)) return;
  throw new ConflictError(
    `${what} is owned by ${owner.kind} registrar "${owner.owner}"; ` +
      `${writer.kind} registrar "${writer.owner}" may not change or remove it`,
    field,
  );
}

/** Register (create or update) a node, optionally a service instance, and checks. */
export async function register(store: Store, reg: Registration): Promise<WriteResult> {
  validateRegistration(reg);
  return commit(store, () => planRegistration(store, reg));
}

/**
 * Remove a service instance and its checks, one check, or a whole node with everything on
 * it — the first that `dereg` names, in that order, as Consul does. Removing what is not
 * there succeeds without writing.
 */
export async function deregister(
  store: Store,
  dereg: Deregistration,
  writer: Source,
): Promise<WriteResult> {
  validateName(dereg.node, 'node');
  validateSource(writer, 'source');
  return commit(store, () => planDeregistration(store, dereg, writer));
}

export interface CheckUpdate {
  status: HealthStatus;
  output: string;
}

/**
 * Set a check's status and output. Writes only when either differs from what is stored.
 * Throws {@link NotFoundError} when the check is not registered.
 */
export async function updateCheckStatus(
  store: Store,
  node: string,
  checkId: string,
  update: CheckUpdate,
): Promise<WriteResult & { check: Stored<HealthCheck> }> {
  const key = checkKey(node, checkId);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const entry = await store.get(key);
    if (entry === null) {
      throw new NotFoundError(`check "${checkId}" is not registered on node "${node}"`, 'checkId');
    }
    const check = decodeCheck(entry);
    if (check.status === update.status && check.output === update.output) {
      return { changed: false, index: await store.currentIndex(), check };
    }
    const next: HealthCheck = { ...withoutIndexes(check), ...update };
    const put = await store.put(key, encodeRecord(next), { cas: entry.modifyIndex });
    if (put.ok) {
      const written = { ...next, ...pick(put.entry) };
      return { changed: true, index: put.entry.modifyIndex, check: written };
    }
  }
  throw raceLost();
}

type Plan = TxnOp[];

async function commit(store: Store, plan: () => Promise<Plan>): Promise<WriteResult> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const ops = await plan();
    if (ops.length === 0) return { changed: false, index: await store.currentIndex() };
    if (ops.length > MAX_TXN_OPS) {
      throw new InvalidArgumentError(
        `the registration needs ${ops.length} store operations; the limit is ${MAX_TXN_OPS}: ` +
          'register fewer checks at once',
        'checks',
      );
    }
    const result = await store.txn(ops);
    if (result.ok) return { changed: true, index: result.index };
    // A guard failed: someone wrote one of these records since we read it. Plan again.
  }
  throw raceLost();
}

function raceLost(): ConflictError {
  return new ConflictError(
    `the catalog kept changing while this write was being applied (${MAX_ATTEMPTS} attempts); try again`,
  );
}

async function listOn(store: Store, prefix: string): Promise<Entry[]> {
  return (await store.list(prefix)).entries;
}

async function planRegistration(store: Store, reg: Registration): Promise<Plan> {
  const writer = reg.node.source;
  const nodeName = reg.node.name;
  const [nodeEntry, serviceEntries, checkEntries] = await Promise.all([
    store.get(nodeKey(nodeName)),
    listOn(store, nodeServicesPrefix(nodeName)),
    listOn(store, nodeChecksPrefix(nodeName)),
  ]);
  const services = new Map(serviceEntries.map((e) => [decodeInstance(e).id, e]));
  const checks = new Map(checkEntries.map((e) => [decodeCheck(e).checkId, e]));
  const ops: TxnOp[] = [];

  // The node.
  if (nodeEntry === null) {
    // Consul creates a missing node even with SkipNodeUpdate, so it must be whole.
    if (reg.skipNodeUpdate === true) validateNode(reg.node);
    ops.push(casPut(nodeKey(nodeName), reg.node, 0));
  } else if (reg.skipNodeUpdate !== true) {
    const current = decodeNode(nodeEntry);
    const wanted = { ...reg.node, source: current.source };
    if (!sameRecord(withoutIndexes(current), wanted)) {
      refuseOtherOwner(`node "${nodeName}"`, current.source, writer, 'node');
      ops.push(casPut(nodeKey(nodeName), wanted, nodeEntry.modifyIndex));
    }
  }

  // The service instance.
  const service = reg.service;
  if (service !== undefined) {
    const entry = services.get(service.id);
    if (entry === undefined) {
      ops.push(casPut(serviceKey(nodeName, service.id), service, 0));
    } else {
      const current = decodeInstance(entry);
      refuseOtherOwner(
        `service "${service.id}" on node "${nodeName}"`,
        current.source,
        writer,
        'service',
      );
      if (!sameRecord(withoutIndexes(current), service)) {
        ops.push(casPut(serviceKey(nodeName, service.id), service, entry.modifyIndex));
      }
    }
  }

  // The checks.
  const listed = new Set<string>();
  const guarded = new Set<string>();
  (reg.checks ?? []).forEach((check, i) => {
    listed.add(check.checkId);
    let owner: ServiceInstance | undefined;
    if (check.serviceId !== '') {
      if (service?.id === check.serviceId) {
        owner = service;
      } else {
        const entry = services.get(check.serviceId);
        if (entry === undefined) {
          throw new InvalidArgumentError(
            `Unknown service ID "${check.serviceId}" for check ID "${check.checkId}"`,
            `checks[${i}].serviceId`,
          );
        }
        owner = decodeInstance(entry);
        refuseOtherOwner(
          `service "${owner.id}" on node "${nodeName}"`,
          owner.source,
          writer,
          `checks[${i}].serviceId`,
        );
        // The check hangs off a service this write does not touch: make sure that service
        // is still there when the transaction commits.
        if (!guarded.has(owner.id)) {
          guarded.add(owner.id);
          ops.push({
            op: 'check-index',
            key: serviceKey(nodeName, owner.id),
            index: entry.modifyIndex,
          });
        }
      }
    }
    let wanted: HealthCheck = { ...check, serviceName: owner?.service ?? '' };
    const entry = checks.get(check.checkId);
    if (entry === undefined) {
      ops.push(casPut(checkKey(nodeName, check.checkId), wanted, 0));
      return;
    }
    const current = decodeCheck(entry);
    refuseOtherOwner(
      `check "${check.checkId}" on node "${nodeName}"`,
      current.source,
      writer,
      `checks[${i}]`,
    );
    if (reg.preserveCheckStatus === true) {
      wanted = { ...wanted, status: current.status, output: current.output };
    }
    if (!sameRecord(withoutIndexes(current), wanted)) {
      ops.push(casPut(checkKey(nodeName, check.checkId), wanted, entry.modifyIndex));
    }
  });

  if (reg.replaceServiceChecks === true && service !== undefined) {
    for (const [id, entry] of checks) {
      if (listed.has(id) || decodeCheck(entry).serviceId !== service.id) continue;
      ops.push({ op: 'delete-cas', key: entry.key, index: entry.modifyIndex });
    }
  }
  return ops;
}

async function planDeregistration(
  store: Store,
  dereg: Deregistration,
  writer: Source,
): Promise<Plan> {
  const node = dereg.node;
  if (dereg.serviceId !== undefined && dereg.serviceId !== '') {
    const serviceId = dereg.serviceId;
    const entry = await store.get(serviceKey(node, serviceId));
    if (entry === null) return [];
    const instance = decodeInstance(entry);
    refuseOtherOwner(
      `service "${serviceId}" on node "${node}"`,
      instance.source,
      writer,
      'serviceId',
    );
    const checks = (await listOn(store, nodeChecksPrefix(node))).filter(
      (e) => decodeCheck(e).serviceId === serviceId,
    );
    return [entry, ...checks].map(deleteCas);
  }
  if (dereg.checkId !== undefined && dereg.checkId !== '') {
    const entry = await store.get(checkKey(node, dereg.checkId));
    if (entry === null) return [];
    const check = decodeCheck(entry);
    refuseOtherOwner(`check "${check.checkId}" on node "${node}"`, check.source, writer, 'checkId');
    return [deleteCas(entry)];
  }

  const [nodeEntry, services, checks] = await Promise.all([
    store.get(nodeKey(node)),
    listOn(store, nodeServicesPrefix(node)),
    listOn(store, nodeChecksPrefix(node)),
  ]);
  if (nodeEntry !== null) {
    refuseOtherOwner(`node "${node}"`, decodeNode(nodeEntry).source, writer, 'node');
  }
  for (const e of services) {
    const s = decodeInstance(e);
    refuseOtherOwner(`service "${s.id}" on node "${node}"`, s.source, writer, 'node');
  }
  for (const e of checks) {
    const c = decodeCheck(e);
    refuseOtherOwner(`check "${c.checkId}" on node "${node}"`, c.source, writer, 'node');
  }
  const entries = [...(nodeEntry === null ? [] : [nodeEntry]), ...services, ...checks];
  if (entries.length <= MAX_TXN_OPS) return entries.map(deleteCas);
  // Too many records for one guarded transaction: remove the subtrees in one step instead.
  // The ownership check above then holds for what was read, not for a record added since.
  const ops: TxnOp[] = [
    { op: 'delete-tree', key: nodeServicesPrefix(node) },
    { op: 'delete-tree', key: nodeChecksPrefix(node) },
  ];
  if (nodeEntry !== null) ops.push(deleteCas(nodeEntry));
  return ops;
}

function casPut(key: string, record: Parameters<typeof encodeRecord>[0], index: number): TxnOp {
  return { op: 'cas', key, value: encodeRecord(record), index };
}

function deleteCas(entry: Entry): TxnOp {
  return { op: 'delete-cas', key: entry.key, index: entry.modifyIndex };
}

function pick(entry: Entry) {
  return { createIndex: entry.createIndex, modifyIndex: entry.modifyIndex };
}

/** Deep equality of two JSON-able records, ignoring key order and undefined fields. */
export function sameRecord(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
    );
  });
}

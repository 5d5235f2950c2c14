/**
 * Catalog records as stored: UTF-8 JSON of the model types. Decoding fills fields a record
 * written by an older version may lack, so readers always get whole records, and refuses
 * anything that is not a record of the expected kind.
 */
import { CorruptDataError } from '../errors.ts';
import type { Entry } from '../store/types.ts';
import { CONSUL_API_SOURCE, DEFAULT_NAMESPACE } from './types.ts';
import type { CatalogNode, HealthCheck, ServiceInstance, Stored } from './types.ts';

/** The record as stored; store indexes a caller may have left on it are not part of it. */
export function encodeRecord(record: CatalogNode | ServiceInstance | HealthCheck): Buffer {
  return Buffer.from(JSON.stringify(withoutIndexes(record)), 'utf8');
}

function parse(entry: Entry, required: readonly string[]): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(entry.value.toString('utf8'));
  } catch (err) {
    throw new CorruptDataError(`catalog record "${entry.key}" is not JSON`, err);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CorruptDataError(`catalog record "${entry.key}" is not an object`);
  }
  const record = value as Record<string, unknown>;
  for (const field of required) {
    if (typeof record[field] !== 'string') {
      throw new CorruptDataError(`catalog record "${entry.key}" has no ${field}`);
    }
  }
  return record;
}

function indexes(entry: Entry) {
  return { createIndex: entry.createIndex, modifyIndex: entry.modifyIndex };
}

export function decodeNode(entry: Entry): Stored<CatalogNode> {
  const r = parse(entry, ['name', 'address']);
  return {
    id: '',
    zone: '',
    taggedAddresses: {},
    meta: {},
    source: CONSUL_API_SOURCE,
    ...(r as Partial<CatalogNode>),
    name: r.name as string,
    address: r.address as string,
    ...indexes(entry),
  };
}

export function decodeInstance(entry: Entry): Stored<ServiceInstance> {
  const r = parse(entry, ['id', 'service', 'node']);
  return {
    namespace: DEFAULT_NAMESPACE,
    zone: '',
    address: '',
    port: 0,
    protocol: 'tcp',
    proxy: {},
    tags: [],
    meta: {},
    weights: { passing: 1, warning: 1 },
    source: CONSUL_API_SOURCE,
    ...(r as Partial<ServiceInstance>),
    id: r.id as string,
    service: r.service as string,
    node: r.node as string,
    ...indexes(entry),
  };
}

export function decodeCheck(entry: Entry): Stored<HealthCheck> {
  const r = parse(entry, ['node', 'checkId']);
  return {
    name: r.checkId as string,
    status: 'critical',
    notes: '',
    output: '',
    serviceId: '',
    serviceName: '',
    type: '',
    definition: {},
    monitored: false,
    source: CONSUL_API_SOURCE,
    ...(r as Partial<HealthCheck>),
    node: r.node as string,
    checkId: r.checkId as string,
    ...indexes(entry),
  };
}

/** The record without its store indexes, as written. */
export function withoutIndexes<T extends object>(
  record: T,
): Omit<T, 'createIndex' | 'modifyIndex'> {
  const { createIndex, modifyIndex, ...rest } = record as T & {
    createIndex?: number;
    modifyIndex?: number;
  };
  return rest;
}

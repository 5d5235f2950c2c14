/** Valid catalog records for tests to start from and break one field at a time. */
import type {
  CatalogNode,
  HealthCheck,
  ServiceInstance,
  Source,
} from '../../../core/src/catalog/types.ts';
import { CONSUL_API_SOURCE } from '../../../core/src/catalog/types.ts';

export const KUBERNETES: Source = { kind: 'kubernetes', owner: 'cluster-east' };

export function node(name = 'node-1', source: Source = CONSUL_API_SOURCE): CatalogNode {
  return {
    name,
    address: '10.0.0.1',
    id: '',
    zone: 'east',
    taggedAddresses: {},
    meta: {},
    source,
  };
}

export function instance(id = 'web-1', overrides: Partial<ServiceInstance> = {}): ServiceInstance {
  return {
    id,
    service: 'web',
    namespace: 'default',
    node: 'node-1',
    zone: 'east',
    address: '',
    port: 8080,
    protocol: 'http',
    proxy: {},
    tags: ['v1'],
    meta: {},
    weights: { passing: 1, warning: 1 },
    source: CONSUL_API_SOURCE,
    ...overrides,
  };
}

export function check(checkId = 'web-1-ttl', overrides: Partial<HealthCheck> = {}): HealthCheck {
  return {
    node: 'node-1',
    checkId,
    name: checkId,
    status: 'critical',
    notes: '',
    output: '',
    serviceId: 'web-1',
    serviceName: 'web',
    type: 'ttl',
    definition: { ttlMs: 10_000 },
    monitored: true,
    source: CONSUL_API_SOURCE,
    ...overrides,
  };
}

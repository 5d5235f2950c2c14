/**
 * The snapshot builder against golden files (`test/fixtures/proxy-config/`): each case is
 * a catalog, config entries and a hello. `UPDATE_GOLDEN=1` rewrites the files; review the
 * diff. Every built snapshot must also survive the proxy's own decoder unchanged.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import {
  CatalogSnapshot,
  ConfigEntrySet,
  decodeConfigEntry,
  decodeProxyConfig,
} from '../../../core/index.ts';
import type {
  CatalogNode,
  HealthCheck,
  HealthStatus,
  ServiceInstance,
  Stored,
} from '../../../core/index.ts';
import type { HelloMessage } from '../../../core/src/proxy-stream/messages.ts';
import { buildSnapshot } from '../../../zone-control/src/proxy-stream/snapshot-builder.ts';
import type { SnapshotInputs } from '../../../zone-control/src/proxy-stream/snapshot-builder.ts';

const GOLDEN = new URL('../../fixtures/proxy-config/', import.meta.url);
const idx = { createIndex: 1, modifyIndex: 1 };
const source = { kind: 'proxy' as const, owner: 'x' };

interface InstanceSpec {
  id: string;
  service: string;
  node?: string;
  address?: string;
  inbound?: number;
  zone?: string;
  meta?: Record<string, string>;
  tags?: string[];
  health?: HealthStatus;
  weights?: { passing: number; warning: number };
  namespace?: string;
}

function catalogOf(specs: InstanceSpec[]): CatalogSnapshot {
  const nodes = new Map<string, Stored<CatalogNode>>();
  const instances: Stored<ServiceInstance>[] = [];
  const checks: Stored<HealthCheck>[] = [];
  for (const s of specs) {
    const node = s.node ?? `node-${s.id}`;
    nodes.set(node, {
      name: node,
      address: `10.1.0.${nodes.size + 1}`,
      id: '',
      zone: s.zone ?? 'east',
      taggedAddresses: {},
      meta: {},
      source,
      ...idx,
    });
    instances.push({
      id: s.id,
      service: s.service,
      namespace: s.namespace ?? 'default',
      node,
      zone: s.zone ?? 'east',
      address: s.address ?? '',
      port: s.inbound ?? 8080,
      protocol: 'tcp',
      proxy: s.inbound === undefined ? {} : { inbound: s.inbound },
      tags: s.tags ?? [],
      meta: s.meta ?? {},
      weights: s.weights ?? { passing: 1, warning: 1 },
      source,
      ...idx,
    });
    if (s.health && s.health !== 'passing') {
      checks.push({
        node,
        checkId: `proxy:${s.id}:app`,
        name: 'app',
        status: s.health,
        notes: '',
        output: '',
        serviceId: s.id,
        serviceName: s.service,
        type: '',
        definition: {},
        monitored: false,
        source,
        ...idx,
      });
    }
  }
  return new CatalogSnapshot(7, [...nodes.values()], instances, checks);
}

function inputs(specs: InstanceSpec[], entries: unknown[]): SnapshotInputs {
  return {
    catalog: catalogOf(specs),
    entries: new ConfigEntrySet(entries.map((e) => decodeConfigEntry(e))),
    zone: 'east',
    trustDomain: 'causeway.test',
  };
}

function hello(fields: Partial<HelloMessage>): HelloMessage {
  return {
    type: 'hello',
    protocol: 1,
    service: 'web',
    namespace: 'default',
    instanceId: 'web-1',
    address: '10.0.0.1',
    port: 21000,
    upstreams: [],
    csr: 'unused',
    appProtocol: 'tcp',
    node: 'vm-1',
    meta: {},
    tags: [],
    ...fields,
  };
}

function golden(name: string, built: unknown): void {
  const file = new URL(`${name}.json`, GOLDEN);
  const text = `${JSON.stringify(built, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
  expect(text).to.equal(
    readFileSync(file, 'utf8'),
    `${name}.json differs; UPDATE_GOLDEN=1 rewrites it`,
  );
  expect(decodeProxyConfig(JSON.parse(text))).to.deep.equal(built);
}

describe('proxy snapshot builder', function () {
  it('builds a TCP upstream with every proxied instance, health kept, priority by zone (basic-tcp)', function () {
    const built = buildSnapshot(
      inputs(
        [
          { id: 'backend-1', service: 'backend', inbound: 21001 },
          {
            id: 'backend-2',
            service: 'backend',
            inbound: 21002,
            address: '10.9.9.9',
            health: 'critical',
          },
          {
            id: 'backend-3',
            service: 'backend',
            inbound: 21003,
            zone: 'west',
            weights: { passing: 3, warning: 1 },
          },
          // Not fronted by a proxy: mTLS cannot reach it.
          { id: 'backend-4', service: 'backend' },
          { id: 'backend-5', service: 'backend', inbound: 21005, namespace: 'other' },
        ],
        [],
      ),
      hello({ upstreams: [{ service: 'backend', namespace: 'default', localPort: 9001 }] }),
    );
    expect(built.inbound.authorization).to.deep.equal({ defaultAction: 'allow', rules: [] });
    expect(built.clusters[0]?.endpoints.map((e) => e.instanceId)).to.deep.equal([
      'backend-1',
      'backend-2',
      'backend-3',
    ]);
    golden('basic-tcp', built);
  });

  it('resolves router, splitter and resolver subsets, upstream defaults and intentions (http-routing)', function () {
    const built = buildSnapshot(
      inputs(
        [
          { id: 'api-1', service: 'api', inbound: 22001, meta: { version: 'v1' } },
          {
            id: 'api-2',
            service: 'api',
            inbound: 22002,
            meta: { version: 'v2' },
            tags: ['canary'],
          },
          {
            id: 'api-3',
            service: 'api',
            inbound: 22003,
            meta: { version: 'v2' },
            health: 'warning',
          },
          { id: 'admin-1', service: 'admin', inbound: 23001 },
        ],
        [
          {
            Kind: 'service-defaults',
            Name: 'web',
            Protocol: 'http',
            UpstreamConfig: {
              Defaults: {
                ConnectTimeoutMs: 1500,
                Limits: { MaxConnections: 100, MaxConcurrentRequests: 50 },
                PassiveHealthCheck: {
                  MaxFailures: 3,
                  BaseEjectionTime: '10s',
                  MaxEjectionPercent: 50,
                },
              },
            },
          },
          { Kind: 'service-defaults', Name: 'api', Protocol: 'http' },
          {
            Kind: 'service-resolver',
            Name: 'api',
            DefaultSubset: 'v1',
            Subsets: {
              v1: { Filter: 'Service.Meta.version == v1' },
              v2: { Filter: 'Service.Meta.version == v2', OnlyPassing: true },
              canary: { Filter: 'Service.Tags contains canary' },
            },
            ConnectTimeout: '3s',
            LoadBalancer: {
              Policy: 'ring_hash',
              HashPolicies: [{ Field: 'header', FieldValue: 'X-User' }],
            },
          },
          {
            Kind: 'service-splitter',
            Name: 'api',
            Splits: [
              { Weight: 90.5, ServiceSubset: 'v1' },
              { Weight: 9.5, ServiceSubset: 'v2' },
            ],
          },
          {
            Kind: 'service-router',
            Name: 'api',
            Routes: [
              {
                Match: { HTTP: { Header: [{ Name: 'X-Canary', Exact: '1' }] } },
                Destination: { ServiceSubset: 'canary' },
              },
              {
                Match: { HTTP: { PathPrefix: '/admin', Methods: ['GET', 'POST'] } },
                Destination: {
                  Service: 'admin',
                  RequestTimeout: '2s',
                  NumRetries: 4,
                  RetryOnStatusCodes: [503],
                  Fault: {
                    Delay: { Percent: 10, Duration: '100ms' },
                    Abort: { Percent: 5, HttpStatus: 503 },
                  },
                },
              },
            ],
          },
          {
            Kind: 'service-intentions',
            Name: 'web',
            Sources: [
              { Name: '*', Action: 'deny' },
              { Name: 'gateway', Zone: 'west', Action: 'deny' },
              { Name: 'gateway', Action: 'allow' },
              {
                Name: 'frontend',
                Permissions: [
                  { Action: 'allow', HTTP: { PathPrefix: '/public', Methods: ['GET'] } },
                  { Action: 'deny', HTTP: { Header: [{ Name: 'X-Debug', Present: true }] } },
                ],
              },
            ],
          },
          {
            Kind: 'service-intentions',
            Name: '*',
            Sources: [{ Name: 'monitor', Action: 'allow' }],
          },
        ],
      ),
      hello({
        appProtocol: 'tcp',
        upstreams: [
          { service: 'api', namespace: 'default', localPort: 9101 },
          { service: 'admin', namespace: 'default', localPort: 9102 },
        ],
      }),
    );
    // service-defaults says http, whatever the proxy reported.
    expect(built.inbound.protocol).to.equal('http');
    const rules = built.inbound.authorization.rules.map(
      (r) => `${r.action}:${r.source.service ?? '*'}${r.source.zone ? `@${r.source.zone}` : ''}`,
    );
    // Exact names (zone-scoped first) before the wildcard; the `*` destination entry last.
    // frontend's L7 intention ends in a terminal deny: what its permissions do not match
    // must not fall through to a later rule.
    expect(rules).to.deep.equal([
      'deny:gateway@west',
      'allow:frontend',
      'deny:frontend',
      'deny:frontend',
      'allow:gateway',
      'deny:*',
      'allow:monitor',
    ]);
    expect(built.inbound.authorization.defaultAction).to.equal('deny');
    const api = built.outbound[0];
    expect(api?.routes.map((r) => r.destinations)).to.deep.equal([
      [{ cluster: 'api~canary', weight: 1 }],
      [{ cluster: 'admin', weight: 1 }],
      [
        { cluster: 'api~v1', weight: 9050 },
        { cluster: 'api~v2', weight: 950 },
      ],
    ]);
    // OnlyPassing leaves the warning instance out of v2.
    expect(
      built.clusters.find((c) => c.name === 'api~v2')?.endpoints.map((e) => e.instanceId),
    ).to.deep.equal(['api-2']);
    golden('http-routing', built);
  });

  it('denies unmatched callers as soon as any intention names the service, and denies an L7-only source on TCP', function () {
    const built = buildSnapshot(
      inputs(
        [],
        [
          {
            Kind: 'service-intentions',
            Name: 'web',
            Sources: [
              { Name: 'frontend', Permissions: [{ Action: 'allow', HTTP: { PathPrefix: '/' } }] },
            ],
          },
        ],
      ),
      hello({}),
    );
    expect(built.inbound).to.deep.equal({
      port: 21000,
      protocol: 'tcp',
      authorization: {
        defaultAction: 'deny',
        rules: [{ action: 'deny', source: { service: 'frontend', namespace: 'default' } }],
      },
    });
    expect(decodeProxyConfig(built)).to.deep.equal(built);
  });

  it('makes an L7 intention terminal for its source: a request its permissions do not allow is denied before a wildcard allow', function () {
    const built = buildSnapshot(
      inputs(
        [],
        [
          { Kind: 'service-defaults', Name: 'web', Protocol: 'http' },
          {
            Kind: 'service-intentions',
            Name: 'web',
            Sources: [
              {
                Name: 'admin',
                Permissions: [
                  { Action: 'allow', HTTP: { PathExact: '/status', Methods: ['GET'] } },
                ],
              },
              { Name: '*', Action: 'allow' },
            ],
          },
        ],
      ),
      hello({}),
    );
    const { rules } = built.inbound.authorization;
    // First match wins (the proxy's rule): admin's GET /status hits the allow, anything
    // else of admin's hits the terminal deny before the `*` allow.
    expect(rules).to.deep.equal([
      {
        action: 'allow',
        source: { service: 'admin', namespace: 'default' },
        http: [{ pathExact: '/status', methods: ['GET'] }],
      },
      { action: 'deny', source: { service: 'admin', namespace: 'default' } },
      { action: 'allow', source: { namespace: 'default' } },
    ]);
    expect(decodeProxyConfig(built)).to.deep.equal(built);
  });

  it('gives a subset the resolver does not define no endpoints rather than every instance', function () {
    const built = buildSnapshot(
      inputs(
        [{ id: 'api-1', service: 'api', inbound: 22001 }],
        [{ Kind: 'service-splitter', Name: 'api', Splits: [{ Weight: 100, ServiceSubset: 'v9' }] }],
      ),
      hello({ upstreams: [{ service: 'api', namespace: 'default', localPort: 9101 }] }),
    );
    expect(built.clusters).to.have.length(1);
    expect(built.clusters[0]).to.include({ name: 'api~v9' });
    expect(built.clusters[0]?.endpoints).to.deep.equal([]);
    expect(decodeProxyConfig(built)).to.deep.equal(built);
  });
});

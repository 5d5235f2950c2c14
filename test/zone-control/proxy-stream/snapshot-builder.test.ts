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
import type { RemoteResources } from '../../../zone-control/src/proxy-stream/remote-resources.ts';
import { NO_REMOTES } from '../../../zone-control/src/proxy-stream/remote-resources.ts';
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
  /** The instance's own port (default: `inbound`, else 8080). */
  port?: number;
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
      port: s.port ?? s.inbound ?? 8080,
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

function inputs(
  specs: InstanceSpec[],
  entries: unknown[],
  remotes: RemoteResources = NO_REMOTES,
): SnapshotInputs {
  return {
    catalog: catalogOf(specs),
    entries: new ConfigEntrySet(entries.map((e) => decodeConfigEntry(e))),
    remotes,
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

/** Other zones' records as zone sync stores them, without the envelope. */
function remotes(
  services: [zone: string, service: string, healthy: number, total?: number][],
  gateways: [
    zone: string,
    name: string,
    address: string,
    port: number,
    health?: HealthStatus,
  ][] = [],
): RemoteResources {
  return {
    services: services.map(([zone, service, healthy, total]) => ({
      zone,
      service,
      namespace: 'default',
      protocol: 'tcp',
      healthy,
      total: total ?? healthy,
    })),
    gateways: gateways.map(([zone, name, publicAddress, publicPort, health]) => ({
      zone,
      name,
      publicAddress,
      publicPort,
      health: health ?? 'passing',
    })),
  };
}

const GATEWAY_META = { 'causeway-kind': 'mesh-gateway', 'causeway-public-addr': '203.0.113.1:443' };
const apiUpstream = hello({
  upstreams: [{ service: 'api', namespace: 'default', localPort: 9101 }],
});

/** `zone/priority/weight@address:port` of the only cluster's endpoints. */
function endpointsOf(built: ReturnType<typeof buildSnapshot>, cluster = 'api'): string[] {
  const found = built.clusters.find((c) => c.name === cluster);
  if (!found) throw new Error(`no cluster ${cluster}`);
  return found.endpoints.map(
    (e) =>
      `${e.zone}/${e.priority}/${e.weight}@${e.address}:${e.port}${e.health === 'passing' ? '' : ` ${e.health}`}`,
  );
}

describe('proxy snapshot builder: cross-zone endpoints', function () {
  it('keeps a cluster local when no other zone exports the service to this one (cross-zone-local-only)', function () {
    const built = buildSnapshot(
      inputs(
        [
          { id: 'api-1', service: 'api', inbound: 22001 },
          { id: 'gw-1', service: 'gateway', port: 8443, meta: GATEWAY_META },
        ],
        [],
        // west exports another service, and knows gateways: neither concerns api.
        remotes([['west', 'billing', 3]], [['west', 'gw', '198.51.100.7', 443]]),
      ),
      apiUpstream,
    );
    expect(endpointsOf(built)).to.deep.equal(['east/0/1@10.1.0.1:22001']);
    golden('cross-zone-local-only', built);
  });

  it('reaches a remote zone through each healthy local gateway, its healthy count split between them (cross-zone-via-gateway)', function () {
    const built = buildSnapshot(
      inputs(
        [
          { id: 'api-1', service: 'api', inbound: 22001 },
          { id: 'api-2', service: 'api', inbound: 22002, health: 'critical' },
          { id: 'gw-1', service: 'gateway', port: 8443, meta: GATEWAY_META },
          { id: 'gw-2', service: 'gateway', port: 8443, meta: GATEWAY_META, address: '10.2.0.9' },
          // A critical gateway carries nothing.
          { id: 'gw-3', service: 'gateway', port: 8443, meta: GATEWAY_META, health: 'critical' },
          // Another zone's gateway in this catalog is not a way out of this zone.
          { id: 'gw-4', service: 'gateway', port: 8443, meta: GATEWAY_META, zone: 'west' },
        ],
        [],
        remotes(
          [
            ['west', 'api', 5, 6],
            ['central', 'api', 1],
          ],
          // Known, but the local gateways come first.
          [['west', 'gw', '198.51.100.7', 443]],
        ),
      ),
      apiUpstream,
    );
    expect(endpointsOf(built)).to.deep.equal([
      'east/0/1@10.1.0.1:22001',
      'east/0/1@10.1.0.2:22002 critical',
      'central/1/1@10.1.0.3:8443',
      'central/1/1@10.2.0.9:8443',
      'west/1/3@10.1.0.3:8443',
      'west/1/2@10.2.0.9:8443',
    ]);
    const west = built.clusters[0]?.endpoints.find((e) => e.zone === 'west');
    expect(west).to.include({ instanceId: 'gateway:west', health: 'passing' });
    golden('cross-zone-via-gateway', built);
  });

  it('dials the remote zone’s gateways directly when this zone has no healthy gateway (cross-zone-remote-gateway)', function () {
    const built = buildSnapshot(
      inputs(
        [
          { id: 'api-1', service: 'api', inbound: 22001 },
          { id: 'gw-1', service: 'gateway', port: 8443, meta: GATEWAY_META, health: 'critical' },
        ],
        [],
        remotes(
          [
            ['west', 'api', 4],
            // No gateway known for central: no way to reach it, so no endpoint.
            ['central', 'api', 2],
          ],
          [
            ['west', 'gw-a', '198.51.100.7', 443],
            ['west', 'gw-b', 'gw-b.west.example:8443', 8443, 'warning'],
            ['west', 'gw-c', '198.51.100.9', 443, 'critical'],
          ],
        ),
      ),
      apiUpstream,
    );
    expect(endpointsOf(built)).to.deep.equal([
      'east/0/1@10.1.0.1:22001',
      'west/1/2@198.51.100.7:443',
      'west/1/2@gw-b.west.example:8443',
    ]);
    golden('cross-zone-remote-gateway', built);
  });

  it('orders failover zones as the resolver lists them and leaves unlisted zones out (cross-zone-failover-order)', function () {
    const built = buildSnapshot(
      inputs(
        [
          { id: 'api-1', service: 'api', inbound: 22001 },
          // A west instance in this catalog follows the same order as west's gateway route.
          { id: 'api-9', service: 'api', inbound: 22009, zone: 'west' },
          { id: 'gw-1', service: 'gateway', port: 8443, meta: GATEWAY_META },
        ],
        [
          {
            Kind: 'service-resolver',
            Name: 'api',
            Failover: { '*': { Targets: [{ Zone: 'central' }, { Zone: 'west' }] } },
          },
        ],
        remotes([
          ['west', 'api', 2],
          ['central', 'api', 3],
          ['south', 'api', 9],
        ]),
      ),
      apiUpstream,
    );
    expect(endpointsOf(built)).to.deep.equal([
      'east/0/1@10.1.0.1:22001',
      'west/2/1@10.1.0.2:22009',
      'central/1/3@10.1.0.3:8443',
      'west/2/2@10.1.0.3:8443',
    ]);
    golden('cross-zone-failover-order', built);
  });

  it('spreads the first priority across zones by ZoneWeights shares and leaves a zone weighted 0 out (cross-zone-weights)', function () {
    const built = buildSnapshot(
      inputs(
        [
          { id: 'api-1', service: 'api', inbound: 22001 },
          { id: 'api-2', service: 'api', inbound: 22002, weights: { passing: 3, warning: 1 } },
          { id: 'gw-1', service: 'gateway', port: 8443, meta: GATEWAY_META },
        ],
        [
          {
            Kind: 'service-resolver',
            Name: 'api',
            ZoneWeights: { east: 80, west: 20, south: 0 },
          },
        ],
        remotes([
          ['west', 'api', 7],
          ['south', 'api', 5],
          ['central', 'api', 1],
        ]),
      ),
      apiUpstream,
    );
    // east's 80 shares × 10 000 split 1:3 between its instances; west's 20 × 10 000 on its
    // one way in; south never; central, unlisted, is the fallback.
    expect(endpointsOf(built)).to.deep.equal([
      'east/0/200000@10.1.0.1:22001',
      'east/0/600000@10.1.0.2:22002',
      'west/0/200000@10.1.0.3:8443',
      'central/1/1@10.1.0.3:8443',
    ]);
    golden('cross-zone-weights', built);
  });

  it('leaves out a zone that exports the service with no healthy instance (cross-zone-unhealthy-zone)', function () {
    const built = buildSnapshot(
      inputs(
        [{ id: 'gw-1', service: 'gateway', port: 8443, meta: GATEWAY_META }],
        [],
        remotes([
          ['west', 'api', 0, 4],
          ['central', 'api', 2, 4],
        ]),
      ),
      apiUpstream,
    );
    expect(endpointsOf(built)).to.deep.equal(['central/1/2@10.1.0.1:8443']);
    golden('cross-zone-unhealthy-zone', built);
  });

  it('keeps a subset cluster in its own zone: other zones report counts per service, not per subset', function () {
    const built = buildSnapshot(
      inputs(
        [
          { id: 'api-1', service: 'api', inbound: 22001, meta: { version: 'v1' } },
          { id: 'gw-1', service: 'gateway', port: 8443, meta: GATEWAY_META },
        ],
        [
          {
            Kind: 'service-resolver',
            Name: 'api',
            DefaultSubset: 'v1',
            Subsets: { v1: { Filter: 'Service.Meta.version == v1' } },
          },
        ],
        remotes([['west', 'api', 3]]),
      ),
      apiUpstream,
    );
    expect(endpointsOf(built, 'api~v1')).to.deep.equal(['east/0/1@10.1.0.1:22001']);
    expect(decodeProxyConfig(built)).to.deep.equal(built);
  });

  it('falls back to the local zone first when ZoneWeights sends traffic elsewhere without naming it', function () {
    const built = buildSnapshot(
      inputs(
        [
          { id: 'api-1', service: 'api', inbound: 22001 },
          { id: 'gw-1', service: 'gateway', port: 8443, meta: GATEWAY_META },
        ],
        [
          {
            Kind: 'service-resolver',
            Name: 'api',
            ZoneWeights: { west: 100 },
            Failover: { '*': { Targets: [{ Zone: 'central' }] } },
          },
        ],
        remotes([
          ['west', 'api', 2],
          ['central', 'api', 2],
          ['south', 'api', 2],
        ]),
      ),
      apiUpstream,
    );
    expect(endpointsOf(built)).to.deep.equal([
      'east/1/1@10.1.0.1:22001',
      'west/0/1000000@10.1.0.2:8443',
      'central/2/2@10.1.0.2:8443',
    ]);
    expect(decodeProxyConfig(built)).to.deep.equal(built);
  });
});

describe('proxy snapshot builder: upstreams pinned to a zone', function () {
  const pinned = hello({
    upstreams: [
      { service: 'api', namespace: 'default', localPort: 9101 },
      { service: 'api', namespace: 'default', localPort: 9102, zone: 'west' },
      { service: 'api', namespace: 'default', localPort: 9103, zone: 'east' },
    ],
  });
  const resolver = {
    Kind: 'service-resolver',
    Name: 'api',
    ConnectTimeout: '2s',
    LoadBalancer: { Policy: 'least_request', LeastRequestConfig: { ChoiceCount: 3 } },
    // Unpinned traffic never goes to west; the pin still reaches it.
    Failover: { '*': { Targets: [{ Zone: 'central' }] } },
  };

  it('gives each pinned upstream its own listener and cluster with only that zone’s endpoints at priority 0 (cross-zone-pinned)', function () {
    const built = buildSnapshot(
      inputs(
        [
          { id: 'api-1', service: 'api', inbound: 22001 },
          // A west instance in this catalog is a west instance for the pin too.
          { id: 'api-9', service: 'api', inbound: 22009, zone: 'west' },
          { id: 'admin-1', service: 'admin', inbound: 23001 },
          { id: 'gw-1', service: 'gateway', port: 8443, meta: GATEWAY_META },
        ],
        [
          { Kind: 'service-defaults', Name: 'api', Protocol: 'http' },
          resolver,
          {
            Kind: 'service-router',
            Name: 'api',
            Routes: [
              { Match: { HTTP: { PathPrefix: '/admin' } }, Destination: { Service: 'admin' } },
            ],
          },
        ],
        remotes(
          [
            ['west', 'api', 4],
            ['central', 'api', 2],
          ],
          [['west', 'gw', '198.51.100.7', 443]],
        ),
      ),
      pinned,
    );
    expect(built.outbound.map((l) => `${l.name}:${l.port}`)).to.deep.equal([
      'api:9101',
      'api--west:9102',
      'api--east:9103',
    ]);
    // The router and its admin destination apply to the unpinned upstream only.
    expect(
      built.outbound.map((l) => l.routes.map((r) => r.destinations[0]?.cluster)),
    ).to.deep.equal([['admin', 'api'], ['api.default.west'], ['api.default.east']]);
    expect(built.outbound.map((l) => l.protocol)).to.deep.equal(['http', 'http', 'http']);
    expect(endpointsOf(built)).to.deep.equal([
      'east/0/1@10.1.0.1:22001',
      'central/1/2@10.1.0.4:8443',
    ]);
    expect(endpointsOf(built, 'api.default.west')).to.deep.equal([
      'west/0/1@10.1.0.2:22009',
      'west/0/4@10.1.0.4:8443',
    ]);
    expect(endpointsOf(built, 'api.default.east')).to.deep.equal(['east/0/1@10.1.0.1:22001']);
    for (const name of ['api.default.west', 'api.default.east']) {
      const cluster = built.clusters.find((c) => c.name === name);
      expect(cluster).to.deep.include({
        service: 'api',
        namespace: 'default',
        connectTimeoutMs: 2000,
        lb: { policy: 'least_request', choiceCount: 3 },
      });
    }
    golden('cross-zone-pinned', built);
  });

  it('dials the pinned zone’s healthy gateways directly when this zone has none (cross-zone-pinned-remote-gateway)', function () {
    const built = buildSnapshot(
      inputs([{ id: 'api-1', service: 'api', inbound: 22001, namespace: 'payments' }], [], {
        services: [
          {
            zone: 'west',
            service: 'api',
            namespace: 'payments',
            protocol: 'tcp',
            healthy: 3,
            total: 3,
          },
        ],
        gateways: [
          {
            zone: 'west',
            name: 'gw-a',
            publicAddress: '198.51.100.7',
            publicPort: 443,
            health: 'passing',
          },
          {
            zone: 'west',
            name: 'gw-b',
            publicAddress: '198.51.100.8',
            publicPort: 443,
            health: 'critical',
          },
        ],
      }),
      hello({
        upstreams: [{ service: 'api', namespace: 'payments', localPort: 9102, zone: 'west' }],
      }),
    );
    expect(built.outbound).to.have.length(1);
    expect(built.outbound[0]).to.include({ name: 'api--west', protocol: 'tcp' });
    expect(endpointsOf(built, 'api.payments.west')).to.deep.equal(['west/0/3@198.51.100.7:443']);
    golden('cross-zone-pinned-remote-gateway', built);
  });

  it('leaves a pinned cluster empty when its zone does not export the service here, never falling back to the local zone', function () {
    const built = buildSnapshot(
      inputs(
        [
          { id: 'api-1', service: 'api', inbound: 22001 },
          { id: 'gw-1', service: 'gateway', port: 8443, meta: GATEWAY_META },
        ],
        [resolver],
        remotes([
          ['west', 'api', 0, 3],
          ['central', 'api', 2],
        ]),
      ),
      hello({
        upstreams: [
          { service: 'api', namespace: 'default', localPort: 9102, zone: 'west' },
          { service: 'api', namespace: 'default', localPort: 9104, zone: 'south' },
        ],
      }),
    );
    expect(built.clusters.map((c) => `${c.name}:${c.endpoints.length}`)).to.deep.equal([
      'api.default.south:0',
      'api.default.west:0',
    ]);
    expect(decodeProxyConfig(built)).to.deep.equal(built);
  });

  it('pins a subset-routed service to the whole service: other zones report no subsets', function () {
    const built = buildSnapshot(
      inputs(
        [
          { id: 'api-1', service: 'api', inbound: 22001, meta: { version: 'v1' } },
          { id: 'api-2', service: 'api', inbound: 22002, meta: { version: 'v2' } },
        ],
        [
          {
            Kind: 'service-resolver',
            Name: 'api',
            DefaultSubset: 'v1',
            Subsets: { v1: { Filter: 'Service.Meta.version == v1' } },
          },
        ],
      ),
      hello({
        upstreams: [
          { service: 'api', namespace: 'default', localPort: 9101 },
          { service: 'api', namespace: 'default', localPort: 9103, zone: 'east' },
        ],
      }),
    );
    expect(endpointsOf(built, 'api~v1')).to.deep.equal(['east/0/1@10.1.0.1:22001']);
    expect(endpointsOf(built, 'api.default.east')).to.deep.equal([
      'east/0/1@10.1.0.1:22001',
      'east/0/1@10.1.0.2:22002',
    ]);
    expect(decodeProxyConfig(built)).to.deep.equal(built);
  });
});

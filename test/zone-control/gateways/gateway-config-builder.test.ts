/**
 * The gateway config builder: which services a zone's gateways route to, to whom, through
 * which sidecars, and which other zones' gateways they tunnel to. Every built config must
 * pass the gateway's own decoder unchanged.
 */
import { expect } from 'chai';
import {
  CatalogSnapshot,
  decodeGatewayConfig,
  defaultTunnelSettings,
} from '../../../core/index.ts';
import type {
  CatalogNode,
  ExportResource,
  HealthCheck,
  HealthStatus,
  RemoteGatewayResource,
  ServiceInstance,
  Stored,
} from '../../../core/index.ts';
import { buildGatewayConfig } from '../../../zone-control/src/gateways/gateway-config-builder.ts';
import type { GatewayConfigInputs } from '../../../zone-control/src/gateways/gateway-config-builder.ts';

const idx = { createIndex: 1, modifyIndex: 1 };
const source = { kind: 'proxy' as const, owner: 'x' };

interface InstanceSpec {
  id: string;
  service: string;
  namespace?: string;
  inbound?: number;
  address?: string;
  zone?: string;
  health?: HealthStatus;
  meta?: Record<string, string>;
}

function catalogOf(specs: InstanceSpec[]): CatalogSnapshot {
  const nodes: Stored<CatalogNode>[] = [];
  const instances: Stored<ServiceInstance>[] = [];
  const checks: Stored<HealthCheck>[] = [];
  for (const [i, s] of specs.entries()) {
    const node = `node-${s.id}`;
    nodes.push({
      name: node,
      address: `10.1.0.${i + 1}`,
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
      port: 8080,
      protocol: 'tcp',
      proxy: s.inbound === undefined ? {} : { inbound: s.inbound },
      tags: [],
      meta: s.meta ?? {},
      weights: { passing: 1, warning: 1 },
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
  return new CatalogSnapshot(9, nodes, instances, checks);
}

function gateway(
  zone: string,
  name: string,
  publicAddress: string,
  health: HealthStatus = 'passing',
): RemoteGatewayResource {
  return { zone, name, publicAddress, publicPort: 8443, health };
}

function inputs(fields: Partial<GatewayConfigInputs>): GatewayConfigInputs {
  return {
    zone: 'east',
    trustDomain: 'causeway.test',
    catalog: catalogOf([]),
    exports: [],
    remoteGateways: [],
    ...fields,
  };
}

const GATEWAY_META = { 'causeway-kind': 'mesh-gateway', 'causeway-public-addr': '203.0.113.1:443' };

describe('gateway config builder', function () {
  it('routes each exported service to its sidecars in this zone, with health, to the export’s consumers', function () {
    const exports: ExportResource[] = [
      { service: 'api', namespace: 'default', consumers: ['*'] },
      { service: 'api', namespace: 'payments', consumers: ['central', 'west'] },
      // Exported, but not running here.
      { service: 'billing', namespace: 'default', consumers: ['west'] },
    ];
    const built = buildGatewayConfig(
      inputs({
        exports,
        catalog: catalogOf([
          { id: 'api-2', service: 'api', inbound: 21002, address: '10.9.0.2', health: 'critical' },
          { id: 'api-1', service: 'api', inbound: 21001, health: 'warning' },
          // No sidecar: a gateway cannot reach it with mTLS.
          { id: 'api-3', service: 'api' },
          // Another zone's instance in this catalog is not this zone's to route to.
          { id: 'api-4', service: 'api', inbound: 21004, zone: 'west' },
          { id: 'pay-1', service: 'api', namespace: 'payments', inbound: 22001 },
          // Not exported.
          { id: 'web-1', service: 'web', inbound: 23001 },
          { id: 'gw-1', service: 'gateway', meta: GATEWAY_META },
        ]),
      }),
    );
    expect(built.services).to.deep.equal([
      {
        service: 'api',
        namespace: 'default',
        exportedTo: ['*'],
        endpoints: [
          { address: '10.1.0.2', port: 21001, health: 'warning', instanceId: 'api-1' },
          { address: '10.9.0.2', port: 21002, health: 'critical', instanceId: 'api-2' },
        ],
      },
      {
        service: 'api',
        namespace: 'payments',
        exportedTo: ['central', 'west'],
        endpoints: [{ address: '10.1.0.5', port: 22001, health: 'passing', instanceId: 'pay-1' }],
      },
    ]);
    expect(built).to.deep.include({
      zone: 'east',
      trustDomain: 'causeway.test',
      peers: [],
      tunnels: defaultTunnelSettings(),
    });
    expect(decodeGatewayConfig(built)).to.deep.equal(built);
  });

  it('keeps a service whose instances all lack a sidecar, with no endpoint', function () {
    const built = buildGatewayConfig(
      inputs({
        exports: [{ service: 'api', namespace: 'default', consumers: ['west'] }],
        catalog: catalogOf([{ id: 'api-1', service: 'api' }]),
      }),
    );
    expect(built.services).to.deep.equal([
      { service: 'api', namespace: 'default', exportedTo: ['west'], endpoints: [] },
    ]);
    expect(decodeGatewayConfig(built)).to.deep.equal(built);
  });

  it('lists other zones’ gateways by zone, healthy first, leaving out this zone and critical ones while another remains', function () {
    const built = buildGatewayConfig(
      inputs({
        remoteGateways: [
          gateway('west', 'gw-c', '198.51.100.9', 'critical'),
          gateway('west', 'gw-b', 'gw-b.west.example:8443', 'warning'),
          gateway('west', 'gw-a', '198.51.100.7'),
          // Every central gateway is critical: they stay, the only way there.
          gateway('central', 'gw-z', '[2001:db8::1]:8443', 'critical'),
          gateway('central', 'gw-y', '192.0.2.4', 'critical'),
          // This zone's own gateway, as global may echo it: never a peer.
          gateway('east', 'gw-self', '203.0.113.1'),
          // Not a DNS label: not a peer gateway name.
          gateway('south', 'GW_1', '192.0.2.9'),
        ],
      }),
    );
    expect(built.peers).to.deep.equal([
      {
        zone: 'central',
        gateways: [
          { name: 'gw-y', address: '192.0.2.4', port: 8443 },
          { name: 'gw-z', address: '2001:db8::1', port: 8443 },
        ],
      },
      {
        zone: 'west',
        gateways: [
          { name: 'gw-a', address: '198.51.100.7', port: 8443 },
          { name: 'gw-b', address: 'gw-b.west.example', port: 8443 },
        ],
      },
    ]);
    expect(decodeGatewayConfig(built)).to.deep.equal(built);
  });

  it('versions the config by its content: same inputs in any order, same version; a health change, a new one', function () {
    const catalog = catalogOf([{ id: 'api-1', service: 'api', inbound: 21001 }]);
    const exports: ExportResource[] = [{ service: 'api', namespace: 'default', consumers: ['*'] }];
    const gateways = [
      gateway('west', 'gw-a', '198.51.100.7'),
      gateway('west', 'gw-b', '198.51.100.8'),
    ];
    const a = buildGatewayConfig(inputs({ catalog, exports, remoteGateways: gateways }));
    const b = buildGatewayConfig(
      inputs({ catalog, exports, remoteGateways: [...gateways].reverse() }),
    );
    expect(a.version).to.match(/^[0-9a-f]{16}$/);
    expect(b).to.deep.equal(a);
    const critical = buildGatewayConfig(
      inputs({
        catalog: catalogOf([{ id: 'api-1', service: 'api', inbound: 21001, health: 'critical' }]),
        exports,
        remoteGateways: gateways,
      }),
    );
    expect(critical.version).not.to.equal(a.version);
    const otherZone = buildGatewayConfig(
      inputs({ zone: 'north', catalog, exports, remoteGateways: gateways }),
    );
    expect(otherZone.version).not.to.equal(a.version);
  });
});

import { expect } from 'chai';
import { decodeProxyConfig } from '../../../core/index.ts';
import type { Cluster } from '../../../core/index.ts';
import { ProxyMetrics } from '../../../proxy/src/metrics.ts';
import { Attempts } from '../../../proxy/src/outbound/attempts.ts';
import type { EndpointState } from '../../../proxy/src/outbound/endpoint.ts';
import type { MtlsConnector } from '../../../proxy/src/outbound/mtls-connector.ts';
import { UpstreamCluster } from '../../../proxy/src/outbound/upstream-cluster.ts';

/** A cluster config: `p0` endpoints at priority 0 (the first `healthy0` passing), `p1` at 1. */
function clusterConfig(
  p0: number,
  healthy0: number,
  p1: number,
  extra: Record<string, unknown> = {},
): Cluster {
  const endpoints = [
    ...Array.from({ length: p0 }, (_, i) => ({
      address: `10.0.0.${i + 1}`,
      port: 8443,
      zone: 'east',
      priority: 0,
      health: i < healthy0 ? 'passing' : 'critical',
      instanceId: `east-${i}`,
    })),
    ...Array.from({ length: p1 }, (_, i) => ({
      address: '127.0.0.1',
      port: 15443 + i,
      zone: `west${i}`,
      priority: 1,
      weight: 5,
      instanceId: `gateway:west${i}`,
    })),
  ];
  const config = decodeProxyConfig({
    service: 'web',
    zone: 'east',
    trustDomain: 'causeway.mesh',
    inbound: { port: 15006 },
    outbound: [],
    clusters: [{ name: 'api', service: 'api', endpoints, ...extra }],
  });
  return config.clusters[0] as Cluster;
}

// pick() never connects: the connector is not used.
const connector = {} as MtlsConnector;

function tallyPriorities(
  cluster: UpstreamCluster,
  n: number,
  attempts?: Attempts,
): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const p = (cluster.pick(undefined, attempts) as EndpointState).priority;
    counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  return counts;
}

async function gaugeValues(metrics: ProxyMetrics): Promise<Record<string, number>> {
  const metric = metrics.registry.getSingleMetric('causeway_proxy_priority_load');
  const out: Record<string, number> = {};
  if (metric === undefined) return out;
  for (const v of (await metric.get()).values) {
    out[`${String(v.labels.cluster)}/${String(v.labels.priority)}`] = v.value;
  }
  return out;
}

describe('UpstreamCluster priority choice', function () {
  it('chooses a level per request by the loads: 5 of 10 local healthy → about 70/30', function () {
    const cluster = new UpstreamCluster(
      clusterConfig(10, 5, 2),
      'causeway.mesh',
      connector,
      new ProxyMetrics(),
    );
    const n = 4000;
    const counts = tallyPriorities(cluster, n);
    // Binomial(4000, 0.7): standard deviation ~29, so ±140 is about ±5 of them.
    expect(counts.get(0)).to.be.within(0.7 * n - 140, 0.7 * n + 140);
    expect((counts.get(0) ?? 0) + (counts.get(1) ?? 0)).to.equal(n);
    cluster.destroy();
  });

  it('keeps all traffic local at 8 of 10, and none at 0 of 10', function () {
    const metrics = new ProxyMetrics();
    const healthy = new UpstreamCluster(clusterConfig(10, 8, 2), 'td', connector, metrics);
    expect(tallyPriorities(healthy, 500).get(0)).to.equal(500);
    const dead = new UpstreamCluster(clusterConfig(10, 0, 2), 'td', connector, metrics);
    expect(tallyPriorities(dead, 500).get(1)).to.equal(500);
    healthy.destroy();
    dead.destroy();
  });

  it('moves traffic away from an ejected endpoint from the next request on', async function () {
    const metrics = new ProxyMetrics();
    const cluster = new UpstreamCluster(
      clusterConfig(2, 2, 1, { outlier: { consecutive5xx: 3, maxEjectionPercent: 50 } }),
      'td',
      connector,
      metrics,
    );
    const before = cluster.status();
    expect(before.priorities.map((p) => p.loadPercent)).to.deep.equal([100, 0]);
    const local = cluster.endpoints[0] as EndpointState;
    for (let i = 0; i < 3; i++) cluster.outlier.serverError(local);
    const after = cluster.status();
    expect(after.generation).to.be.greaterThan(before.generation);
    expect(after.priorities.map((p) => p.loadPercent)).to.deep.equal([70, 30]);
    expect(after.priorities[0]).to.include({ endpoints: 2, healthy: 1, health: 70 });
    expect(await gaugeValues(metrics)).to.deep.equal({ 'api/0': 70, 'api/1': 30 });
    for (let i = 0; i < 200; i++) expect(cluster.pick(undefined, undefined)).not.to.equal(local);
    cluster.destroy();
    expect(await gaugeValues(metrics)).to.deep.equal({});
  });

  it('a retry tries the other local endpoint before failing over, then the next level', function () {
    const cluster = new UpstreamCluster(
      clusterConfig(2, 2, 1),
      'td',
      connector,
      new ProxyMetrics(),
    );
    const [a, b] = cluster.endpoints as [EndpointState, EndpointState];
    for (let i = 0; i < 50; i++) {
      const first = new Attempts();
      first.add(a, false);
      expect(cluster.pick(undefined, first)).to.equal(b);
      const both = new Attempts();
      both.add(a, false);
      both.add(b, false);
      expect(cluster.pick(undefined, both)?.priority).to.equal(1);
    }
    cluster.destroy();
  });

  it('a retry after a connect failure goes to the next level at once', function () {
    const cluster = new UpstreamCluster(
      clusterConfig(3, 3, 2),
      'td',
      connector,
      new ProxyMetrics(),
    );
    const attempts = new Attempts();
    attempts.add(cluster.endpoints[0] as EndpointState, true);
    expect(tallyPriorities(cluster, 200, attempts).get(1)).to.equal(200);
    cluster.destroy();
  });

  it('a retry with no other level to go to stays on the level, on another endpoint', function () {
    const cluster = new UpstreamCluster(
      clusterConfig(3, 3, 0),
      'td',
      connector,
      new ProxyMetrics(),
    );
    const [a] = cluster.endpoints as [EndpointState];
    const attempts = new Attempts();
    attempts.add(a, true);
    for (let i = 0; i < 50; i++) {
      const e = cluster.pick(undefined, attempts);
      expect(e?.priority).to.equal(0);
      expect(e).not.to.equal(a);
    }
    cluster.destroy();
  });

  it('ring hash: a key picks the same level and endpoint every time', function () {
    const cluster = new UpstreamCluster(
      clusterConfig(10, 5, 2, { lb: { policy: 'ring_hash', hashHeader: 'x-user' } }),
      'td',
      connector,
      new ProxyMetrics(),
    );
    const levels = new Map<number, number>();
    for (let k = 0; k < 300; k++) {
      const first = cluster.pick(`user-${k}`, undefined);
      for (let i = 0; i < 3; i++) expect(cluster.pick(`user-${k}`, undefined)).to.equal(first);
      const p = first?.priority as number;
      levels.set(p, (levels.get(p) ?? 0) + 1);
    }
    // Still about 70/30 across keys.
    expect(levels.get(0)).to.be.within(160, 260);
    cluster.destroy();
  });

  it('status lists each level with its load, health and counts', function () {
    const cluster = new UpstreamCluster(
      clusterConfig(10, 5, 2),
      'td',
      connector,
      new ProxyMetrics(),
    );
    const status = cluster.status();
    expect(status).to.include({ priority: 0, panic: false, totalPanic: false });
    expect(status.priorities).to.deep.equal([
      {
        priority: 0,
        loadPercent: 70,
        health: 70,
        panic: false,
        endpoints: 10,
        healthy: 5,
        totalWeight: 10,
        healthyWeight: 5,
      },
      {
        priority: 1,
        loadPercent: 30,
        health: 100,
        panic: false,
        endpoints: 2,
        healthy: 2,
        totalWeight: 10,
        healthyWeight: 10,
      },
    ]);
    cluster.destroy();
  });

  it('applies a new overprovisioning factor on update', function () {
    const cluster = new UpstreamCluster(
      clusterConfig(10, 8, 2),
      'td',
      connector,
      new ProxyMetrics(),
    );
    expect(cluster.status().priorities.map((p) => p.loadPercent)).to.deep.equal([100, 0]);
    cluster.update(clusterConfig(10, 8, 2, { overprovisioningFactor: 1 }), 'td');
    expect(cluster.status().priorities.map((p) => p.loadPercent)).to.deep.equal([80, 20]);
    cluster.destroy();
  });

  it('keeps remote zones that share the local gateway address apart, each with its own SNI', () => {
    const metrics = new ProxyMetrics();
    const gateway = { address: '127.0.0.1', port: 15444, priority: 1, weight: 2 };
    const config = decodeProxyConfig({
      service: 'web',
      zone: 'east',
      trustDomain: 'causeway.mesh',
      inbound: { port: 15006 },
      outbound: [],
      clusters: [
        {
          name: 'api',
          service: 'api',
          endpoints: [
            { ...gateway, zone: 'west', instanceId: 'gateway:west' },
            { ...gateway, zone: 'south', instanceId: 'gateway:south' },
          ],
        },
      ],
    }).clusters[0] as Cluster;
    const cluster = new UpstreamCluster(config, 'causeway.mesh', connector, metrics);
    expect(cluster.endpoints.map((e) => e.sni).sort()).to.deep.equal([
      'api.default.south.causeway.mesh',
      'api.default.west.causeway.mesh',
    ]);
    cluster.destroy();
  });
});

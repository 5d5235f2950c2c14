/**
 * Snapshots shared by proxy shape: every proxy must get exactly what the builder gives for
 * its own hello — identity, inbound port, upstream ports, authorization, endpoints — no
 * matter which proxy of its shape (or of another shape) asked first, and new inputs must
 * give new snapshots.
 */
import { expect } from 'chai';
import {
  CatalogSnapshot,
  ConfigEntrySet,
  decodeConfigEntry,
  decodeProxyConfig,
} from '../../../core/index.ts';
import type { CatalogNode, ProxyConfig, ServiceInstance, Stored } from '../../../core/index.ts';
import type { HelloMessage } from '../../../core/src/proxy-stream/messages.ts';
import type { RemoteResources } from '../../../zone-control/src/proxy-stream/remote-resources.ts';
import { buildSnapshot } from '../../../zone-control/src/proxy-stream/snapshot-builder.ts';
import type {
  ProxyShape,
  SnapshotInputs,
} from '../../../zone-control/src/proxy-stream/snapshot-builder.ts';
import {
  SnapshotCache,
  keyedShape,
} from '../../../zone-control/src/proxy-stream/snapshot-cache.ts';

const idx = { createIndex: 1, modifyIndex: 1 };
const source = { kind: 'proxy' as const, owner: 'x' };

/** `api` (two proxied instances) and `db` in zone east, and a gateway. */
function catalog(): CatalogSnapshot {
  const nodes: Stored<CatalogNode>[] = [];
  const instances: Stored<ServiceInstance>[] = [];
  const add = (id: string, service: string, inbound: number, meta: Record<string, string> = {}) => {
    const node = `node-${id}`;
    nodes.push({
      name: node,
      address: `10.1.0.${nodes.length + 1}`,
      id: '',
      zone: 'east',
      taggedAddresses: {},
      meta: {},
      source,
      ...idx,
    });
    instances.push({
      id,
      service,
      namespace: 'default',
      node,
      zone: 'east',
      address: '',
      port: inbound,
      protocol: 'tcp',
      proxy: { inbound },
      tags: [],
      meta,
      weights: { passing: 1, warning: 1 },
      source,
      ...idx,
    });
  };
  add('api-1', 'api', 22001);
  add('api-2', 'api', 22002);
  add('db-1', 'db', 23001);
  add('gw-1', 'gw', 8443, { 'causeway-kind': 'mesh-gateway' });
  return new CatalogSnapshot(7, nodes, instances, []);
}

/** Intentions that differ by destination, so a leaked authorization would show. */
const ENTRIES = new ConfigEntrySet(
  [
    { Kind: 'service-defaults', Name: 'api', Protocol: 'http' },
    {
      Kind: 'service-intentions',
      Name: 'web',
      Sources: [
        { Name: 'frontend', Action: 'allow' },
        { Name: '*', Action: 'deny' },
      ],
    },
    {
      Kind: 'service-intentions',
      Name: 'admin',
      Sources: [{ Name: 'ops', Action: 'allow' }],
    },
    {
      Kind: 'service-intentions',
      Name: 'web',
      Namespace: 'shop',
      Sources: [{ Name: 'checkout', Namespace: 'shop', Action: 'allow' }],
    },
  ].map((e) => decodeConfigEntry(e)),
);

function remotes(westHealthy: number): RemoteResources {
  return {
    services: [
      {
        zone: 'west',
        service: 'api',
        namespace: 'default',
        protocol: 'http',
        healthy: westHealthy,
        total: 3,
      },
    ],
    gateways: [],
  };
}

function inputs(westHealthy = 3): SnapshotInputs {
  return {
    catalog: catalog(),
    entries: ENTRIES,
    remotes: remotes(westHealthy),
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
    upstreams: [{ service: 'api', namespace: 'default', localPort: 9001 }],
    csr: 'unused',
    appProtocol: 'tcp',
    node: 'vm-1',
    meta: {},
    tags: [],
    ...fields,
  };
}

/** Hellos of several shapes, each shape several times with different instance fields. */
function fleet(): HelloMessage[] {
  const shapes: Partial<HelloMessage>[] = [
    {},
    { port: 21001 },
    { appProtocol: 'http' },
    { service: 'admin' },
    { namespace: 'shop' },
    { upstreams: [{ service: 'api', namespace: 'default', localPort: 9002 }] },
    {
      upstreams: [
        { service: 'api', namespace: 'default', localPort: 9001 },
        { service: 'db', namespace: 'default', localPort: 9003 },
      ],
    },
    {
      upstreams: [
        { service: 'db', namespace: 'default', localPort: 9003 },
        { service: 'api', namespace: 'default', localPort: 9001 },
      ],
    },
    { upstreams: [{ service: 'api', namespace: 'default', localPort: 9001, zone: 'west' }] },
    { upstreams: [] },
  ];
  const out: HelloMessage[] = [];
  shapes.forEach((shape, s) => {
    for (let i = 0; i < 3; i++) {
      out.push(
        hello({
          ...shape,
          instanceId: `p-${s}-${i}`,
          node: `vm-${s}-${i}`,
          address: `10.0.${s}.${i + 1}`,
          meta: { version: `v${i}` },
          tags: i === 0 ? [] : [`t${i}`],
          adminPort: 15000 + i,
          csr: `csr-${s}-${i}`,
        }),
      );
    }
  });
  return out;
}

/** A fixed shuffle, so which proxy of a shape asks first varies between shapes. */
function shuffled<T>(list: T[]): T[] {
  const out = [...list];
  let seed = 7;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('snapshot cache', function () {
  it('gives every proxy exactly the snapshot built for its own hello, whichever proxy asked first', function () {
    const cache = new SnapshotCache();
    const now = inputs();
    for (const h of shuffled(fleet())) {
      const shared = cache.get(now, keyedShape(h));
      expect(shared.text, h.instanceId).to.equal(JSON.stringify(buildSnapshot(now, h)));
      const snapshot = JSON.parse(shared.text) as ProxyConfig;
      // The fields that are a proxy's own, spelled out.
      expect(snapshot.service).to.equal(h.service);
      expect(snapshot.namespace).to.equal(h.namespace);
      expect(snapshot.inbound.port).to.equal(h.port);
      expect(snapshot.outbound.map((l) => l.port)).to.deep.equal(
        h.upstreams.map((u) => u.localPort),
      );
      expect(shared.invalid).to.equal(undefined);
    }
  });

  it('builds once per shape: proxies that differ only in instance fields share one entry', function () {
    const cache = new SnapshotCache();
    const now = inputs();
    const hellos = fleet();
    const entries = hellos.map((h) => cache.get(now, keyedShape(h)));
    for (let i = 0; i < hellos.length; i += 3) {
      expect(entries[i + 1]).to.equal(entries[i]);
      expect(entries[i + 2]).to.equal(entries[i]);
    }
    // And ten shapes are ten different snapshots.
    expect(new Set(entries.map((e) => e.text)).size).to.equal(10);
  });

  it('keeps authorization per service and namespace', function () {
    const cache = new SnapshotCache();
    const now = inputs();
    const authz = (h: HelloMessage): ProxyConfig['inbound']['authorization'] =>
      (JSON.parse(cache.get(now, keyedShape(h)).text) as ProxyConfig).inbound.authorization;
    expect(authz(hello({ service: 'admin' })).rules.map((r) => r.source.service)).to.deep.equal([
      'ops',
    ]);
    expect(authz(hello({})).rules.map((r) => r.source.service ?? '*')).to.deep.equal([
      'frontend',
      '*',
    ]);
    expect(authz(hello({ namespace: 'shop' })).rules.map((r) => r.source.service)).to.deep.equal([
      'checkout',
    ]);
  });

  it('builds again from new inputs: a changed remote zone reaches every shape', function () {
    const cache = new SnapshotCache();
    const before = inputs(3);
    const after = inputs(2);
    const westWeight = (text: string): number =>
      (JSON.parse(text) as ProxyConfig).clusters
        .find((c) => c.name === 'api')
        ?.endpoints.filter((e) => e.zone === 'west')
        .reduce((n, e) => n + e.weight, 0) ?? 0;
    const withApi = fleet().filter((h) =>
      h.upstreams.some((u) => u.service === 'api' && u.zone === undefined),
    );
    for (const h of withApi) expect(westWeight(cache.get(before, keyedShape(h)).text)).to.equal(3);
    for (const h of withApi) {
      const text = cache.get(after, keyedShape(h)).text;
      expect(westWeight(text)).to.equal(2);
      expect(text).to.equal(JSON.stringify(buildSnapshot(after, h)));
    }
    // The older inputs keep their own snapshots.
    expect(westWeight(cache.get(before, keyedShape(hello({}))).text)).to.equal(3);
  });

  it('keys a shape by every field the builder reads and by nothing else', function () {
    const base = keyedShape(hello({}));
    const variants: Partial<HelloMessage>[] = [
      { service: 'admin' },
      { namespace: 'shop' },
      { port: 21001 },
      { appProtocol: 'http' },
      { upstreams: [{ service: 'db', namespace: 'default', localPort: 9001 }] },
      { upstreams: [{ service: 'api', namespace: 'shop', localPort: 9001 }] },
      { upstreams: [{ service: 'api', namespace: 'default', localPort: 9002 }] },
      { upstreams: [{ service: 'api', namespace: 'default', localPort: 9001, zone: 'west' }] },
    ];
    for (const v of variants)
      expect(keyedShape(hello(v)).key, JSON.stringify(v)).to.not.equal(base.key);
    const same = keyedShape(
      hello({
        instanceId: 'other',
        node: 'other',
        address: '10.9.9.9',
        meta: { a: 'b' },
        tags: ['x'],
        csr: 'other',
        adminPort: 1,
      }),
    );
    expect(same.key).to.equal(base.key);
    // What the builder gets is the copy, holding the shape's fields and nothing else.
    const fields: (keyof ProxyShape)[] = [
      'service',
      'namespace',
      'port',
      'appProtocol',
      'upstreams',
    ];
    expect(Object.keys(same.shape)).to.deep.equal(fields);
    expect(Object.isFrozen(same.shape)).to.equal(true);
    expect(Object.isFrozen(same.shape.upstreams[0])).to.equal(true);
  });

  it('marks a snapshot the proxy would refuse as invalid for each proxy of that shape', function () {
    const cache = new SnapshotCache();
    const now = inputs();
    // An upstream on the inbound port: the proxy's decoder refuses it.
    const bad = hello({
      port: 9001,
      upstreams: [{ service: 'api', namespace: 'default', localPort: 9001 }],
    });
    const built = buildSnapshot(now, bad);
    expect(() => decodeProxyConfig(built)).to.throw(/already used by inbound\.port/);
    for (const instanceId of ['bad-1', 'bad-2']) {
      const shared = cache.get(now, keyedShape({ ...bad, instanceId } as HelloMessage));
      expect(shared.invalid).to.match(/already used by inbound\.port/);
      expect(shared.text).to.equal(JSON.stringify(built));
    }
    expect(cache.get(now, keyedShape(hello({}))).invalid).to.equal(undefined);
  });
});

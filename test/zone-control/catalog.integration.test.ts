/**
 * `/v1/catalog/*` on a real zone, on the embedded store and on Redis: the consul client's
 * register/deregister/services/service.nodes/node calls, Consul's exact shapes and headers,
 * blocking reads, and the owner rule (a record another registrar owns is a 409).
 */
import { expect } from 'chai';
import { register } from '../../core/src/catalog/catalog-writer.ts';
import type { Source } from '../../core/src/catalog/types.ts';
import { forEachBackend } from '../helpers/zone.ts';

const KUBERNETES: Source = { kind: 'kubernetes', owner: 'cluster-east' };

const SERVICE_NODE_KEYS = [
  'ID',
  'Node',
  'Address',
  'Datacenter',
  'TaggedAddresses',
  'NodeMeta',
  'ServiceKind',
  'ServiceID',
  'ServiceName',
  'ServiceTags',
  'ServiceAddress',
  'ServiceWeights',
  'ServiceMeta',
  'ServicePort',
  'ServiceEnableTagOverride',
  'ServiceProxy',
  'ServiceConnect',
  'CreateIndex',
  'ModifyIndex',
];

forEachBackend('catalog API', (env) => {
  function put(path: string, body: unknown): Promise<Response> {
    return fetch(`${env.zone.url}${path}`, {
      method: 'PUT',
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  async function index(path: string): Promise<number> {
    const res = await fetch(`${env.zone.url}${path}`);
    await res.arrayBuffer();
    return Number(res.headers.get('x-consul-index'));
  }

  it('registers a node, service and check with the consul client and lists them', async function () {
    await env.consul.catalog.register({
      node: 'cat-node-1',
      address: '10.1.0.1',
      nodemeta: { rack: 'r1' },
      service: { id: 'web-1', service: 'cat-web', tags: ['v1'], port: 8080, meta: { team: 'a' } },
      check: { name: 'web alive', serviceid: 'web-1', status: 'passing' },
    });
    const services = (await env.consul.catalog.service.list()) as Record<string, string[]>;
    expect(services['cat-web']).to.deep.equal(['v1']);
    const nodes = (await env.consul.catalog.service.nodes('cat-web')) as Record<string, unknown>[];
    expect(nodes).to.have.length(1);
    expect(nodes[0]).to.include({
      Node: 'cat-node-1',
      Address: '10.1.0.1',
      Datacenter: 'test',
      ServiceID: 'web-1',
      ServiceName: 'cat-web',
      ServicePort: 8080,
      ServiceAddress: '',
    });
    expect(nodes[0]?.ServiceTags).to.deep.equal(['v1']);
    expect(nodes[0]?.ServiceMeta).to.deep.equal({ team: 'a' });
    expect(nodes[0]?.NodeMeta).to.deep.equal({ rack: 'r1' });
    const nodeList = (await env.consul.catalog.node.list()) as { Node: string }[];
    expect(nodeList.map((n) => n.Node)).to.include('cat-node-1');
    const onNode = (await env.consul.catalog.node.services('cat-node-1')) as {
      Node: { Node: string; Meta: Record<string, string> };
      Services: Record<string, { ID: string; Service: string; Port: number; Tags: string[] }>;
    };
    expect(onNode.Node.Node).to.equal('cat-node-1');
    expect(onNode.Node.Meta).to.deep.equal({ rack: 'r1' });
    expect(onNode.Services['web-1']).to.include({ ID: 'web-1', Service: 'cat-web', Port: 8080 });
  });

  it("answers the ServiceNode shape, field for field, with Consul's read headers", async function () {
    await put('/v1/catalog/register', {
      Node: 'shape-node',
      Address: '10.1.0.2',
      Service: { Service: 'shape', Port: 1 },
    });
    const res = await fetch(`${env.zone.url}/v1/catalog/service/shape`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    expect(Number(res.headers.get('x-consul-index'))).to.be.greaterThan(0);
    expect(res.headers.get('x-consul-knownleader')).to.equal('true');
    expect(res.headers.get('x-consul-lastcontact')).to.equal('0');
    const [entry] = (await res.json()) as Record<string, unknown>[];
    expect(Object.keys(entry ?? {})).to.deep.equal(SERVICE_NODE_KEYS);
    // The service ID defaults to its name; weights to 1/1; lists and maps are never null.
    expect(entry).to.include({
      ServiceID: 'shape',
      ServiceKind: '',
      ServiceEnableTagOverride: false,
    });
    expect(entry?.ServiceWeights).to.deep.equal({ Passing: 1, Warning: 1 });
    expect(entry?.ServiceTags).to.deep.equal([]);
  });

  it('answers true to a registration, [] for an unknown service and null for an unknown node', async function () {
    const res = await put('/v1/catalog/register', { Node: 'n-true', Address: '10.1.0.3' });
    expect(res.status).to.equal(200);
    expect(await res.text()).to.equal('true');
    const svc = await fetch(`${env.zone.url}/v1/catalog/service/no-such-service`);
    expect(await svc.json()).to.deep.equal([]);
    const node = await fetch(`${env.zone.url}/v1/catalog/node/no-such-node`);
    expect(node.status).to.equal(200);
    expect(await node.text()).to.equal('null');
  });

  it("filters a service's instances by every ?tag given", async function () {
    for (const [id, tags] of [
      ['t-1', ['blue']],
      ['t-2', ['blue', 'canary']],
    ] as const) {
      await put('/v1/catalog/register', {
        Node: 'tag-node',
        Address: '10.1.0.4',
        Service: { ID: id, Service: 'tagged', Tags: tags },
      });
    }
    const blue = (await env.consul.catalog.service.nodes({ service: 'tagged', tag: 'blue' })) as {
      ServiceID: string;
    }[];
    expect(blue.map((n) => n.ServiceID)).to.deep.equal(['t-1', 't-2']);
    const res = await fetch(`${env.zone.url}/v1/catalog/service/tagged?tag=blue&tag=canary`);
    expect(((await res.json()) as { ServiceID: string }[]).map((n) => n.ServiceID)).to.deep.equal([
      't-2',
    ]);
  });

  it('deregisters a check, a service with its checks, then the whole node', async function () {
    await env.consul.catalog.register({
      node: 'dereg-node',
      address: '10.1.0.5',
      service: { id: 'd-1', service: 'dereg' },
      checks: [
        { checkid: 'd-1-check', name: 'd', serviceid: 'd-1', status: 'passing' },
        { checkid: 'node-check', name: 'n', status: 'passing' },
      ],
    });
    await env.consul.catalog.deregister({ node: 'dereg-node', checkid: 'node-check' });
    let checks = (await (
      await fetch(`${env.zone.url}/v1/health/node/dereg-node`)
    ).json()) as unknown[];
    expect(checks).to.have.length(1);
    await env.consul.catalog.deregister({ node: 'dereg-node', serviceid: 'd-1' });
    expect(await env.consul.catalog.service.nodes('dereg')).to.deep.equal([]);
    checks = (await (await fetch(`${env.zone.url}/v1/health/node/dereg-node`)).json()) as unknown[];
    expect(checks).to.deep.equal([]);
    await env.consul.catalog.deregister('dereg-node');
    expect(await (await fetch(`${env.zone.url}/v1/catalog/node/dereg-node`)).text()).to.equal(
      'null',
    );
  });

  it('does not bump the index when the same registration is sent again', async function () {
    const body = {
      Node: 'same-node',
      Address: '10.1.0.6',
      Service: { Service: 'same', Port: 5 },
    };
    await put('/v1/catalog/register', body);
    const before = await index('/v1/catalog/services');
    await put('/v1/catalog/register', body);
    expect(await index('/v1/catalog/services')).to.equal(before);
  });

  it('holds a blocking read until the catalog changes, then answers a higher index', async function () {
    const start = await index('/v1/catalog/services');
    const blocked = fetch(`${env.zone.url}/v1/catalog/services?index=${start}&wait=10s`);
    await new Promise((r) => setTimeout(r, 100));
    await put('/v1/catalog/register', {
      Node: 'block-node',
      Address: '10.1.0.7',
      Service: { Service: 'arrived' },
    });
    const res = await blocked;
    expect(Number(res.headers.get('x-consul-index'))).to.be.greaterThan(start);
    expect(await res.json()).to.have.property('arrived');
  });

  describe('bad input', function () {
    async function refused(path: string, body: unknown, status = 400): Promise<string> {
      const res = await put(path, body);
      expect(res.status, await res.clone().text()).to.equal(status);
      expect(res.headers.get('content-type')).to.match(/^text\/plain/);
      return res.text();
    }

    it('answers malformed JSON with a 400 saying the body did not decode', async function () {
      expect(await refused('/v1/catalog/register', '{"Node": ')).to.match(/^Request decode failed/);
      expect(await refused('/v1/catalog/register', '[1]')).to.include('JSON object');
      expect(await refused('/v1/catalog/register', '')).to.include('body is empty');
    });

    it('names the field of a value of the wrong type', async function () {
      const text = await refused('/v1/catalog/register', {
        Node: 'bad',
        Address: '10.0.0.1',
        Service: { Service: 'x', Port: '80' },
      });
      expect(text).to.include('Service.Port');
      expect(
        await refused('/v1/catalog/register', {
          Node: 'bad',
          Address: '10.0.0.1',
          Service: { Service: 'x', Tags: 'a' },
        }),
      ).to.include('Service.Tags');
      expect(await refused('/v1/catalog/register', { Node: 5, Address: 'x' })).to.include('Node');
    });

    it("refuses a missing node, address or service name with Consul's messages", async function () {
      expect(await refused('/v1/catalog/register', { Address: '10.0.0.1' })).to.equal(
        'Must provide node\n',
      );
      expect(await refused('/v1/catalog/register', { Node: 'x' })).to.equal(
        'Must provide address if SkipNodeUpdate is not set\n',
      );
      expect(
        await refused('/v1/catalog/register', {
          Node: 'x',
          Address: '10.0.0.1',
          Service: { ID: 'x-1' },
        }),
      ).to.include('Must provide service name (Service.Service)');
      expect(await refused('/v1/catalog/deregister', { ServiceID: 'x' })).to.equal(
        'Must provide node\n',
      );
    });

    it('refuses a port out of range, a wildcard address and a bad check status', async function () {
      const base = { Node: 'x', Address: '10.0.0.1' };
      expect(
        await refused('/v1/catalog/register', {
          ...base,
          Service: { Service: 's', Port: 70000 },
        }),
      ).to.include('Service.Port must be an integer from 0 to 65535');
      expect(
        await refused('/v1/catalog/register', {
          ...base,
          Service: { Service: 's', Address: '0.0.0.0' },
        }),
      ).to.equal('Invalid service address\n');
      expect(
        await refused('/v1/catalog/register', { ...base, Check: { Name: 'c', Status: 'ok' } }),
      ).to.include('Check.Status');
    });

    it('writes nothing when any part of a registration is refused', async function () {
      const before = await index('/v1/catalog/nodes');
      expect(
        await refused('/v1/catalog/register', {
          Node: 'half-node',
          Address: '10.0.0.9',
          Service: { Service: 'half' },
          Checks: [{ Name: 'orphan', ServiceID: 'not-registered' }],
        }),
      ).to.include('Unknown service ID "not-registered"');
      expect(await index('/v1/catalog/nodes')).to.equal(before);
      expect(await (await fetch(`${env.zone.url}/v1/catalog/node/half-node`)).text()).to.equal(
        'null',
      );
    });

    it('answers 405 to the wrong method and 400 to a missing name', async function () {
      const get = await fetch(`${env.zone.url}/v1/catalog/register`);
      expect(get.status).to.equal(405);
      const svc = await fetch(`${env.zone.url}/v1/catalog/service/`);
      expect(svc.status).to.equal(400);
      expect(await svc.text()).to.equal('Missing service name\n');
    });
  });

  describe('records owned by another registrar', function () {
    before(async function () {
      await register(env.zone.zone.store, {
        node: {
          name: 'k8s-node',
          address: '10.2.0.1',
          id: '',
          zone: 'test',
          taggedAddresses: {},
          meta: {},
          source: KUBERNETES,
        },
        service: {
          id: 'pod-1',
          service: 'k8s-web',
          namespace: 'default',
          node: 'k8s-node',
          zone: 'test',
          address: '10.2.0.10',
          port: 80,
          protocol: 'http',
          proxy: {},
          tags: [],
          meta: {},
          weights: { passing: 1, warning: 1 },
          source: KUBERNETES,
        },
      });
    });

    it('refuses with 409 to overwrite them, naming the owner', async function () {
      const res = await put('/v1/catalog/register', {
        Node: 'k8s-node',
        Address: '10.2.0.1',
        Service: { ID: 'pod-1', Service: 'k8s-web', Port: 9999 },
      });
      expect(res.status).to.equal(409);
      expect(await res.text()).to.include('kubernetes registrar "cluster-east"');
      const [entry] = (await env.consul.catalog.service.nodes('k8s-web')) as {
        ServicePort: number;
      }[];
      expect(entry?.ServicePort).to.equal(80);
    });

    it('refuses with 409 to deregister them', async function () {
      const service = await put('/v1/catalog/deregister', {
        Node: 'k8s-node',
        ServiceID: 'pod-1',
      });
      expect(service.status).to.equal(409);
      const node = await put('/v1/catalog/deregister', { Node: 'k8s-node' });
      expect(node.status).to.equal(409);
      expect(await env.consul.catalog.service.nodes('k8s-web')).to.have.length(1);
    });

    it('still lets Consul clients add their own service to that node', async function () {
      await env.consul.catalog.register({
        node: 'k8s-node',
        address: '10.2.0.1',
        service: { id: 'sidecar', service: 'k8s-sidecar' },
      });
      expect(await env.consul.catalog.service.nodes('k8s-sidecar')).to.have.length(1);
    });
  });
});

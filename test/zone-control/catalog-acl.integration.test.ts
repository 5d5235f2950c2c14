/**
 * ACLs on the catalog, health and agent endpoints of a real zone with ACLs on (embedded
 * and Redis): writes need service or node write (403 otherwise), reads of one service need
 * service read, and lists leave out what the token may not read, saying so in
 * `X-Consul-Results-Filtered-By-ACLs`.
 */
import { expect } from 'chai';
import { forEachBackend } from '../helpers/zone.ts';

const ROOT = '5b2a1c4e-3d6f-4a8b-9c0d-1e2f3a4b5c6d';

forEachBackend('catalog ACLs', { dev: false, bootstrapToken: ROOT }, (env) => {
  /** May write service "web" and read every node, nothing else. */
  let webWriter: string;

  before(async function () {
    const res = await call('PUT', '/v1/acl/token', ROOT, {
      Rules: 'service "web" { policy = "write" }\nnode_prefix "" { policy = "read" }',
    });
    expect(res.status, await res.clone().text()).to.equal(200);
    webWriter = ((await res.json()) as { SecretID: string }).SecretID;
    for (const [node, service] of [
      ['n1', 'web'],
      ['n2', 'db'],
    ] as const) {
      const reg = await call('PUT', '/v1/catalog/register', ROOT, {
        Node: node,
        Address: '10.4.0.1',
        Service: { Service: service },
      });
      expect(reg.status).to.equal(200);
    }
  });

  function call(method: string, path: string, token: string, body?: unknown) {
    return fetch(`${env.zone.url}${path}`, {
      method,
      headers: { 'X-Consul-Token': token },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  it('lets a token with service write register that service on a known node', async function () {
    const res = await call('PUT', '/v1/catalog/register', webWriter, {
      Node: 'n1',
      Address: '10.4.0.1',
      Service: { ID: 'web-2', Service: 'web', Port: 81 },
    });
    expect(res.status, await res.clone().text()).to.equal(200);
  });

  it('refuses with 403 a service, a new node or a deregistration it may not write', async function () {
    const other = await call('PUT', '/v1/catalog/register', webWriter, {
      Node: 'n1',
      Address: '10.4.0.1',
      Service: { Service: 'db' },
    });
    expect(other.status).to.equal(403);
    expect(await other.text()).to.include("lacks permission 'service:write'");
    const newNode = await call('PUT', '/v1/catalog/register', webWriter, {
      Node: 'n9',
      Address: '10.4.0.9',
      Service: { Service: 'web' },
    });
    expect(newNode.status).to.equal(403);
    expect(await newNode.text()).to.include("'node:write'");
    const dereg = await call('PUT', '/v1/catalog/deregister', webWriter, { Node: 'n2' });
    expect(dereg.status).to.equal(403);
    const agent = await call('PUT', '/v1/agent/service/register', webWriter, { Name: 'db' });
    expect(agent.status).to.equal(403);
  });

  it('refuses to re-home or remove a node check with only service write', async function () {
    const seed = await call('PUT', '/v1/catalog/register', ROOT, {
      Node: 'n2',
      Address: '10.4.0.1',
      Check: { CheckID: 'node-health', Name: 'node health', Status: 'passing' },
    });
    expect(seed.status).to.equal(200);
    // Claiming the node check for a service the token may write must not move it.
    const rehome = await call('PUT', '/v1/catalog/register', webWriter, {
      Node: 'n2',
      Address: '10.4.0.1',
      Service: { Service: 'web', ID: 'web-n2' },
      Checks: [{ CheckID: 'node-health', ServiceID: 'web-n2', Status: 'critical' }],
    });
    expect(rehome.status).to.equal(403);
    expect(await rehome.text()).to.include('\'node:write\' on "n2"');
    const remove = await call('PUT', '/v1/catalog/deregister', webWriter, {
      Node: 'n2',
      CheckID: 'node-health',
    });
    expect(remove.status).to.equal(403);
    const checks = await call('GET', '/v1/health/node/n2', ROOT);
    const list = (await checks.json()) as { CheckID: string; ServiceID: string; Status: string }[];
    const kept = list.find((c) => c.CheckID === 'node-health');
    expect(kept).to.include({ ServiceID: '', Status: 'passing' });
  });

  it('leaves out of lists what the token may not read, and says so', async function () {
    const res = await call('GET', '/v1/catalog/services', webWriter);
    expect(await res.json()).to.deep.equal({ web: [] });
    expect(res.headers.get('x-consul-results-filtered-by-acls')).to.equal('true');
    const state = await call('GET', '/v1/health/state/any', webWriter);
    expect(state.status).to.equal(200);
    const all = await call('GET', '/v1/catalog/services', ROOT);
    expect(Object.keys((await all.json()) as object)).to.include.members(['web', 'db']);
    expect(all.headers.get('x-consul-results-filtered-by-acls')).to.equal(null);
  });

  it('answers 403 to a read of one service the token may not read', async function () {
    expect((await call('GET', '/v1/catalog/service/db', webWriter)).status).to.equal(403);
    expect((await call('GET', '/v1/health/service/db', webWriter)).status).to.equal(403);
    expect((await call('GET', '/v1/health/service/web', webWriter)).status).to.equal(200);
  });
});

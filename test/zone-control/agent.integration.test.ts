/**
 * `/v1/agent/*` for services and checks on a real zone (embedded and Redis): the consul
 * client's agent.service.register with TTL checks, agent.check.pass/warn/fail, the
 * services and checks maps, deregistration, and Consul's errors (404 unknown IDs, 400 for
 * invalid registrations, in plain text).
 */
import { expect } from 'chai';
import { forEachBackend } from '../helpers/zone.ts';

interface AgentCheck {
  Node: string;
  CheckID: string;
  Name: string;
  Status: string;
  Output: string;
  ServiceID: string;
  Type: string;
}

/**
 * The consul client's typings want `name` and `timeout` on every service check; neither
 * Consul nor the client does, and these tests rely on the defaults.
 */
function serviceCheck<T extends object>(c: T): T & { name: string; timeout: string } {
  return c as T & { name: string; timeout: string };
}

forEachBackend('agent API', (env) => {
  async function checks(): Promise<Record<string, AgentCheck>> {
    return await env.consul.agent.check.list();
  }

  function put(path: string, body?: unknown): Promise<Response> {
    return fetch(`${env.zone.url}${path}`, {
      method: 'PUT',
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  it("registers a service with a TTL check on the zone's own node", async function () {
    await env.consul.agent.service.register({
      name: 'billing',
      id: 'billing-1',
      port: 7000,
      tags: ['v2'],
      meta: { owner: 'team-b' },
      check: serviceCheck({ ttl: '30s', notes: 'heartbeat' }),
    });
    const services = (await env.consul.agent.service.list()) as Record<
      string,
      Record<string, unknown>
    >;
    expect(services['billing-1']).to.deep.equal({
      ID: 'billing-1',
      Service: 'billing',
      Tags: ['v2'],
      Meta: { owner: 'team-b' },
      Port: 7000,
      Address: '',
      Weights: { Passing: 1, Warning: 1 },
      EnableTagOverride: false,
      Datacenter: 'test',
    });
    const check = (await checks())['service:billing-1'];
    expect(check).to.include({
      Node: 'test',
      Name: "Service 'billing' check",
      Status: 'critical',
      ServiceID: 'billing-1',
      Type: 'ttl',
    });
    // The zone's node is in the catalog, named after the zone, at its API address.
    const nodes = (await env.consul.catalog.service.nodes('billing')) as Record<string, unknown>[];
    expect(nodes[0]).to.include({ Node: 'test', Address: '127.0.0.1', ServiceID: 'billing-1' });
  });

  it('sets a TTL check passing, warning and critical, with the note as output', async function () {
    await env.consul.agent.check.pass({ id: 'service:billing-1', note: 'all good' });
    expect((await checks())['service:billing-1']).to.include({
      Status: 'passing',
      Output: 'all good',
    });
    await env.consul.agent.check.warn('service:billing-1');
    expect((await checks())['service:billing-1']?.Status).to.equal('warning');
    await env.consul.agent.check.fail({ id: 'service:billing-1', note: 'down' });
    expect((await checks())['service:billing-1']).to.include({
      Status: 'critical',
      Output: 'down',
    });
    const res = await put('/v1/agent/check/update/service:billing-1', {
      Status: 'passing',
      Output: 'updated',
    });
    expect(res.status).to.equal(200);
    expect((await checks())['service:billing-1']).to.include({
      Status: 'passing',
      Output: 'updated',
    });
  });

  it("keeps a check's status when the service is registered again", async function () {
    await env.consul.agent.service.register({
      name: 'billing',
      id: 'billing-1',
      port: 7001,
      check: serviceCheck({ ttl: '30s' }),
    });
    expect((await checks())['service:billing-1']?.Status).to.equal('passing');
  });

  it('numbers several checks service:<id>:<n>, and replaces them only when asked', async function () {
    await env.consul.agent.service.register({
      name: 'multi',
      checks: [serviceCheck({ ttl: '30s' }), serviceCheck({ ttl: '30s', name: 'second' })],
    });
    let all = await checks();
    expect(all['service:multi:1']?.Name).to.equal("Service 'multi' check");
    expect(all['service:multi:2']?.Name).to.equal('second');
    const res = await put('/v1/agent/service/register?replace-existing-checks', {
      Name: 'multi',
      Check: { CheckID: 'only', TTL: '30s' },
    });
    expect(res.status).to.equal(200);
    all = await checks();
    expect(Object.keys(all).filter((id) => all[id]?.ServiceID === 'multi')).to.deep.equal(['only']);
    await env.consul.agent.service.deregister('multi');
  });

  it("accepts lower-case and snake_case field names, as Consul's decoder does", async function () {
    const res = await put('/v1/agent/service/register', {
      name: 'lower',
      port: 81,
      check: { ttl: '30s', deregister_critical_service_after: '90m' },
    });
    expect(res.status).to.equal(200);
    const services = (await env.consul.agent.service.list()) as Record<string, { Port: number }>;
    expect(services.lower?.Port).to.equal(81);
    await env.consul.agent.service.deregister('lower');
  });

  it('deregisters a service together with its checks', async function () {
    await env.consul.agent.service.deregister('billing-1');
    expect(await env.consul.agent.service.list()).not.to.have.property('billing-1');
    expect(await checks()).not.to.have.property('service:billing-1');
  });

  describe('errors', function () {
    async function refused(res: Promise<Response>, status: number): Promise<string> {
      const r = await res;
      expect(r.status).to.equal(status);
      expect(r.headers.get('content-type')).to.match(/^text\/plain/);
      return r.text();
    }

    it("answers 404 for an unknown service or check ID, with Consul's hint", async function () {
      expect(await refused(put('/v1/agent/service/deregister/ghost'), 404)).to.equal(
        'Unknown service ID "ghost". Ensure that the service ID is passed, not the service name.\n',
      );
      expect(await refused(put('/v1/agent/check/pass/ghost'), 404)).to.equal(
        'Unknown check ID "ghost". Ensure that the check ID is passed, not the check name.\n',
      );
    });

    it('refuses to pass a check that has no TTL', async function () {
      await put('/v1/agent/service/register', {
        Name: 'probed',
        Check: { TCP: '127.0.0.1:1', Interval: '10s' },
      });
      expect(await refused(put('/v1/agent/check/pass/service:probed'), 400)).to.equal(
        'CheckID "service:probed" does not have associated TTL\n',
      );
      await env.consul.agent.service.deregister('probed');
    });

    it('refuses registrations Consul refuses, with its messages', async function () {
      const reg = (body: unknown) => put('/v1/agent/service/register', body);
      expect(await refused(reg({ Port: 1 }), 400)).to.equal('Missing service name\n');
      expect(await refused(reg({ Name: 'x', Check: { Notes: 'n' } }), 400)).to.equal(
        'Invalid check: TTL must be > 0 for TTL checks\n',
      );
      expect(await refused(reg({ Name: 'x', Check: { HTTP: 'http://a/' } }), 400)).to.include(
        'Invalid check: Interval must be > 0',
      );
      expect(await refused(reg({ Name: 'x', Check: { TTL: '1s', Interval: '1s' } }), 400)).to.equal(
        'Invalid check: Interval and TTL cannot both be specified\n',
      );
      expect(await refused(reg({ Name: 'x', Check: { TTL: '1s', Status: 'up' } }), 400)).to.equal(
        "Status for checks must 'passing', 'warning', 'critical'\n",
      );
      expect(await refused(reg({ Name: 'x', Address: '0.0.0.0' }), 400)).to.equal(
        'Invalid service address\n',
      );
    });

    it('names the field of a value of the wrong type', async function () {
      const reg = (body: unknown) => put('/v1/agent/service/register', body);
      expect(await refused(reg({ Name: 'x', Port: 'eighty' }), 400)).to.include('Port');
      expect(await refused(reg({ Name: 'x', Check: { TTL: true } }), 400)).to.include('Check.TTL');
      expect(await refused(reg({ Name: 'x', Check: { TTL: 'soon' } }), 400)).to.include(
        'Check.TTL',
      );
      expect(await refused(reg({ Name: 'x', Checks: [{ TTL: '1s' }, 'x'] }), 400)).to.include(
        'Checks[1]',
      );
      expect(await refused(reg('{"Name":'), 400)).to.match(/^Request decode failed/);
    });

    it('refuses check kinds the zone cannot run instead of leaving them critical', async function () {
      const text = await refused(
        put('/v1/agent/service/register', {
          Name: 'scripted',
          Check: { Args: ['/bin/true'], Interval: '10s' },
        }),
        400,
      );
      expect(text).to.include('script checks are not supported');
      expect(await env.consul.agent.service.list()).not.to.have.property('scripted');
    });

    it('answers 405 to a GET of a write endpoint', async function () {
      const res = await fetch(`${env.zone.url}/v1/agent/check/pass/anything`);
      expect(res.status).to.equal(405);
    });
  });
});

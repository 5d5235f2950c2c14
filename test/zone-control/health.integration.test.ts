/**
 * `/v1/health/*` on a real zone, on the embedded store and on Redis: the consul client's
 * health.service (with `passing` and `tag`), health.checks, health.state and health.node,
 * the exact entry and check shapes, and a blocking health query (a consul `watch`) woken
 * by a check status change.
 */
import { expect } from 'chai';
import { forEachBackend } from '../helpers/zone.ts';

const CHECK_KEYS = [
  'Node',
  'CheckID',
  'Name',
  'Status',
  'Notes',
  'Output',
  'ServiceID',
  'ServiceName',
  'ServiceTags',
  'Type',
  'Interval',
  'Timeout',
  'ExposedPort',
  'Definition',
  'CreateIndex',
  'ModifyIndex',
];

interface HealthEntry {
  Node: { Node: string; Address: string };
  Service: { ID: string; Service: string; Tags: string[] };
  Checks: { CheckID: string; Status: string; ServiceID: string; Output: string }[];
}

forEachBackend('health API', (env) => {
  before(async function () {
    // Two instances of "api": one passing, one critical; a node check on node-b.
    await env.consul.catalog.register({
      node: 'node-a',
      address: '10.3.0.1',
      service: { id: 'api-1', service: 'api', tags: ['blue'], port: 80 },
      check: { checkid: 'api-1-alive', name: 'alive', serviceid: 'api-1', status: 'passing' },
    });
    await env.consul.catalog.register({
      node: 'node-b',
      address: '10.3.0.2',
      service: { id: 'api-2', service: 'api', tags: ['green'], port: 80 },
      checks: [
        { checkid: 'api-2-alive', name: 'alive', serviceid: 'api-2', status: 'critical' },
        { checkid: 'disk', name: 'disk', status: 'warning', notes: 'node-level' },
      ],
    });
  });

  it("answers a service's instances with their node and all their checks", async function () {
    const entries = (await env.consul.health.service('api')) as HealthEntry[];
    expect(entries.map((e) => [e.Node.Node, e.Service.ID])).to.deep.equal([
      ['node-a', 'api-1'],
      ['node-b', 'api-2'],
    ]);
    expect(Object.keys(entries[1] ?? {})).to.deep.equal(['Node', 'Service', 'Checks']);
    // The node's own checks come with the instance's, as in Consul.
    expect(entries[1]?.Checks.map((c) => c.CheckID)).to.deep.equal(['disk', 'api-2-alive']);
  });

  it('keeps only instances whose every check passes with passing', async function () {
    const entries = (await env.consul.health.service({
      service: 'api',
      passing: true,
    })) as HealthEntry[];
    expect(entries.map((e) => e.Service.ID)).to.deep.equal(['api-1']);
    // `?passing` without a value means true; a value Go cannot parse as a bool is a 400.
    const bare = await fetch(`${env.zone.url}/v1/health/service/api?passing`);
    expect(((await bare.json()) as HealthEntry[]).map((e) => e.Service.ID)).to.deep.equal([
      'api-1',
    ]);
    const bad = await fetch(`${env.zone.url}/v1/health/service/api?passing=maybe`);
    expect(bad.status).to.equal(400);
    expect(await bad.text()).to.equal('Invalid value for ?passing\n');
  });

  it('filters by tag', async function () {
    const entries = (await env.consul.health.service({
      service: 'api',
      tag: 'green',
    })) as HealthEntry[];
    expect(entries.map((e) => e.Service.ID)).to.deep.equal(['api-2']);
  });

  it("answers a service's checks in Consul's HealthCheck shape", async function () {
    const checks = (await env.consul.health.checks('api')) as unknown as Record<string, unknown>[];
    expect(checks.map((c) => c.CheckID)).to.deep.equal(['api-1-alive', 'api-2-alive']);
    expect(Object.keys(checks[0] ?? {})).to.deep.equal(CHECK_KEYS);
    expect(checks[0]).to.include({
      Node: 'node-a',
      Name: 'alive',
      Status: 'passing',
      ServiceID: 'api-1',
      ServiceName: 'api',
    });
    expect(checks[0]?.ServiceTags).to.deep.equal(['blue']);
  });

  it('answers the checks in a state, and every check for any', async function () {
    const critical = (await env.consul.health.state('critical')) as { CheckID: string }[];
    expect(critical.map((c) => c.CheckID)).to.deep.equal(['api-2-alive']);
    const warning = (await env.consul.health.state('warning')) as {
      CheckID: string;
      Notes: string;
    }[];
    expect(warning).to.have.length(1);
    expect(warning[0]).to.include({ CheckID: 'disk', Notes: 'node-level' });
    const any = (await env.consul.health.state('any')) as unknown[];
    expect(any).to.have.length(3);
  });

  it('refuses an unknown state with a 400 naming the states', async function () {
    const res = await fetch(`${env.zone.url}/v1/health/state/sick`);
    expect(res.status).to.equal(400);
    expect(await res.text()).to.include('use any, passing, warning or critical');
  });

  it("answers a node's checks", async function () {
    const checks = (await env.consul.health.node('node-b')) as { CheckID: string }[];
    expect(checks.map((c) => c.CheckID)).to.deep.equal(['api-2-alive', 'disk']);
  });

  it('answers [] for an unknown service and 400 for a missing name', async function () {
    expect(await env.consul.health.service('nope')).to.deep.equal([]);
    const res = await fetch(`${env.zone.url}/v1/health/service/`);
    expect(res.status).to.equal(400);
    expect(await res.text()).to.equal('Missing service name\n');
  });

  it('wakes a blocking health query (a consul watch) when a check changes status', async function () {
    const watch = env.consul.watch({
      method: env.consul.health.service.bind(env.consul.health),
      options: { service: 'api', passing: 'true', wait: '10s' },
    });
    try {
      const changes: string[][] = [];
      const next = () =>
        new Promise<string[]>((resolve, reject) => {
          watch.once('change', (data: HealthEntry[]) => resolve(data.map((e) => e.Service.ID)));
          watch.once('error', reject);
        });
      changes.push(await next());
      const woken = next();
      await env.consul.catalog.register({
        node: 'node-b',
        address: '10.3.0.2',
        checks: [
          { checkid: 'api-2-alive', name: 'alive', serviceid: 'api-2', status: 'passing' },
          { checkid: 'disk', name: 'disk', status: 'passing' },
        ],
      });
      changes.push(await woken);
      expect(changes).to.deep.equal([['api-1'], ['api-1', 'api-2']]);
    } finally {
      watch.end();
    }
  });
});

/**
 * `/v1/config` against a real zone: Consul's shapes and status codes, check-and-set,
 * blocking reads, ACLs, and a plain-text 400 naming the field for every bad input.
 */
import { expect } from 'chai';
import { forEachBackend, startZone } from '../helpers/zone.ts';
import type { TestZone } from '../helpers/zone.ts';

const ROOT = '5a1c2b3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d';

async function call(
  zone: TestZone,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; text: string; json: () => unknown; headers: Headers }> {
  const res = await fetch(`${zone.url}${path}`, {
    method,
    headers: token ? { 'X-Consul-Token': token } : {},
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    text,
    json: () => JSON.parse(text) as unknown,
    headers: res.headers,
  };
}

forEachBackend('config entries API', (env) => {
  it('creates, reads, lists and deletes an entry in Consul shapes', async function () {
    const put = await call(env.zone, 'PUT', '/v1/config', {
      Kind: 'service-defaults',
      Name: 'web',
      Protocol: 'http',
    });
    expect(put.status).to.equal(200);
    expect(put.json()).to.equal(true);
    const got = await call(env.zone, 'GET', '/v1/config/service-defaults/web');
    expect(got.status).to.equal(200);
    const entry = got.json() as Record<string, unknown>;
    expect(entry).to.include({
      Kind: 'service-defaults',
      Name: 'web',
      Protocol: 'http',
      Namespace: 'default',
    });
    expect(entry.ModifyIndex).to.be.a('number').above(0);
    expect(Number(got.headers.get('x-consul-index'))).to.be.at.least(entry.ModifyIndex as number);
    const list = await call(env.zone, 'GET', '/v1/config/service-defaults');
    expect((list.json() as { Name: string }[]).map((e) => e.Name)).to.deep.equal(['web']);
    expect((await call(env.zone, 'GET', '/v1/config/service-router')).json()).to.deep.equal([]);
    const del = await call(env.zone, 'DELETE', '/v1/config/service-defaults/web');
    expect(del.status).to.equal(200);
    expect(del.json()).to.deep.equal({});
    const gone = await call(env.zone, 'GET', '/v1/config/service-defaults/web');
    expect(gone.status).to.equal(404);
    expect(gone.text).to.equal('Config entry not found for "service-defaults" / "web"\n');
  });

  it('writes and deletes with check-and-set', async function () {
    const body = { Kind: 'service-resolver', Name: 'api', ConnectTimeout: '2s' };
    expect((await call(env.zone, 'PUT', '/v1/config?cas=0', body)).json()).to.equal(true);
    // cas=0 means "only if absent".
    expect((await call(env.zone, 'PUT', '/v1/config?cas=0', body)).json()).to.equal(false);
    const { ModifyIndex } = (
      await call(env.zone, 'GET', '/v1/config/service-resolver/api')
    ).json() as {
      ModifyIndex: number;
    };
    expect(
      (await call(env.zone, 'PUT', `/v1/config?cas=${ModifyIndex + 1000}`, body)).json(),
    ).to.equal(false);
    expect(
      (
        await call(env.zone, 'PUT', `/v1/config?cas=${ModifyIndex}`, {
          ...body,
          ConnectTimeout: '3s',
        })
      ).json(),
    ).to.equal(true);
    expect(
      (await call(env.zone, 'DELETE', `/v1/config/service-resolver/api?cas=${ModifyIndex}`)).json(),
    ).to.equal(false);
    const now = (await call(env.zone, 'GET', '/v1/config/service-resolver/api')).json() as {
      ModifyIndex: number;
      ConnectTimeout: string;
    };
    expect(now.ConnectTimeout).to.equal('3s');
    expect(
      (
        await call(env.zone, 'DELETE', `/v1/config/service-resolver/api?cas=${now.ModifyIndex}`)
      ).json(),
    ).to.equal(true);
  });

  it('answers false to a check-and-set delete of a missing entry, as Consul does', async function () {
    expect(
      (await call(env.zone, 'DELETE', '/v1/config/service-defaults/nope?cas=5')).json(),
    ).to.equal(false);
    expect(
      (await call(env.zone, 'DELETE', '/v1/config/service-defaults/nope?cas=0')).json(),
    ).to.equal(false);
    // Without cas a missing entry is simply gone.
    expect(
      (await call(env.zone, 'DELETE', '/v1/config/service-defaults/nope')).json(),
    ).to.deep.equal({});
  });

  it('blocks a read until the entry changes', async function () {
    await call(env.zone, 'PUT', '/v1/config', {
      Kind: 'service-splitter',
      Name: 'blk',
      Splits: [{ Weight: 100 }],
    });
    const first = await call(env.zone, 'GET', '/v1/config/service-splitter/blk');
    const index = first.headers.get('x-consul-index');
    const started = Date.now();
    const blocked = call(env.zone, 'GET', `/v1/config/service-splitter/blk?index=${index}&wait=5s`);
    await new Promise((r) => setTimeout(r, 300));
    await call(env.zone, 'PUT', '/v1/config', {
      Kind: 'service-splitter',
      Name: 'blk',
      Splits: [
        { Weight: 50, Service: 'a' },
        { Weight: 50, Service: 'b' },
      ],
    });
    const answer = await blocked;
    expect(Date.now() - started).to.be.below(4500);
    expect((answer.json() as { Splits: unknown[] }).Splits).to.have.length(2);
    expect(Number(answer.headers.get('x-consul-index'))).to.be.above(Number(index));
  });

  const bad: [string, string, string, unknown, RegExp][] = [
    ['PUT', '/v1/config', 'an empty body', undefined, /body is empty/],
    ['PUT', '/v1/config', 'malformed JSON', '{"Kind":', /invalid JSON/],
    [
      'PUT',
      '/v1/config',
      'an unknown kind',
      { Kind: 'mesh', Name: 'x' },
      /invalid config entry kind: mesh/,
    ],
    [
      'PUT',
      '/v1/config',
      'a bad weight',
      { Kind: 'service-splitter', Name: 'x', Splits: [{ Weight: 'half' }] },
      /Splits\[0\]\.Weight/,
    ],
    [
      'PUT',
      '/v1/config',
      'an unknown field',
      { Kind: 'service-router', Name: 'x', Routes: [{ Destinaton: {} }] },
      /Routes\[0\]\.Destinaton is not a known field/,
    ],
    [
      'PUT',
      '/v1/config?cas=abc',
      'a bad cas',
      { Kind: 'service-defaults', Name: 'x' },
      /Invalid cas value/,
    ],
    [
      'PUT',
      '/v1/config?ns=other',
      'a namespace that differs from ?ns',
      { Kind: 'service-defaults', Name: 'x' },
      /Namespace/,
    ],
    [
      'GET',
      '/v1/config/bogus/web',
      'an unknown kind',
      undefined,
      /invalid config entry kind: bogus/,
    ],
    [
      'GET',
      '/v1/config/bogus',
      'an unknown kind in a list',
      undefined,
      /invalid config entry kind: bogus/,
    ],
    [
      'GET',
      '/v1/config/service-defaults/Web!',
      'a bad name',
      undefined,
      /name must be a lowercase DNS label/,
    ],
    ['GET', '/v1/config/service-defaults/web?index=x', 'a bad index', undefined, /Invalid index/],
    ['GET', '/v1/config/service-defaults/web?ns=A_B', 'a bad namespace', undefined, /ns must be/],
    ['DELETE', '/v1/config/bogus/web', 'an unknown kind', undefined, /invalid config entry kind/],
    [
      'DELETE',
      '/v1/config/service-defaults/web?cas=-1',
      'a bad cas',
      undefined,
      /Invalid cas value/,
    ],
  ];
  for (const [method, path, what, body, message] of bad) {
    it(`answers ${method} ${path.split('?')[0]} with ${what} with a plain-text 400`, async function () {
      const res = await call(env.zone, method, path, body);
      expect(res.status).to.equal(400);
      expect(res.headers.get('content-type')).to.match(/^text\/plain/);
      expect(res.text).to.match(message);
    });
  }
});

describe('config entries API with ACLs (integration)', function () {
  let zone: TestZone;
  let webWriter: string;
  let webReader: string;
  before(async function () {
    zone = await startZone({ dev: false, bootstrapToken: ROOT });
    const token = async (rules: string): Promise<string> => {
      const policy = (await call(
        zone,
        'PUT',
        '/v1/acl/policy',
        { Name: `p-${Math.random().toString(36).slice(2)}`, Rules: rules },
        ROOT,
      ).then((r) => r.json())) as { ID: string };
      const t = (await call(
        zone,
        'PUT',
        '/v1/acl/token',
        { Policies: [{ ID: policy.ID }] },
        ROOT,
      ).then((r) => r.json())) as { SecretID: string };
      return t.SecretID;
    };
    webWriter = await token('service "web" { policy = "write" }');
    webReader = await token('service "web" { policy = "read" }');
  });
  after(async function () {
    await zone?.stop();
  });

  it('needs service:write on the entry name to write, service:read to read, operator:write for anything', async function () {
    const web = { Kind: 'service-defaults', Name: 'web', Protocol: 'http' };
    const api = { Kind: 'service-defaults', Name: 'api', Protocol: 'http' };
    expect((await call(zone, 'PUT', '/v1/config', web, webWriter)).status).to.equal(200);
    const denied = await call(zone, 'PUT', '/v1/config', api, webWriter);
    expect(denied.status).to.equal(403);
    expect(denied.text).to.match(/lacks permission 'service:write' on "api"/);
    expect((await call(zone, 'PUT', '/v1/config', web, webReader)).status).to.equal(403);
    expect((await call(zone, 'PUT', '/v1/config', api, ROOT)).status).to.equal(200);
    expect(
      (await call(zone, 'GET', '/v1/config/service-defaults/web', undefined, webReader)).status,
    ).to.equal(200);
    expect(
      (await call(zone, 'GET', '/v1/config/service-defaults/api', undefined, webReader)).status,
    ).to.equal(403);
    expect((await call(zone, 'GET', '/v1/config/service-defaults/web')).status).to.equal(403);
    // A list leaves out what the token may not read.
    const list = await call(zone, 'GET', '/v1/config/service-defaults', undefined, webReader);
    expect((list.json() as { Name: string }[]).map((e) => e.Name)).to.deep.equal(['web']);
    expect(list.headers.get('x-consul-results-filtered-by-acls')).to.equal('true');
    expect(
      (await call(zone, 'DELETE', '/v1/config/service-defaults/api', undefined, webWriter)).status,
    ).to.equal(403);
    expect(
      (await call(zone, 'DELETE', '/v1/config/service-defaults/web', undefined, webWriter)).status,
    ).to.equal(200);
  });

  it('needs operator:write to write or delete service-intentions; service:write on the service is not enough', async function () {
    const deny = {
      Kind: 'service-intentions',
      Name: 'web',
      Sources: [{ Name: '*', Action: 'deny' }],
    };
    expect((await call(zone, 'PUT', '/v1/config', deny, ROOT)).status).to.equal(200);
    // The protected service's own token (what a dataplane token grants) must not open it up.
    const allow = { ...deny, Sources: [{ Name: '*', Action: 'allow' }] };
    const overwrite = await call(zone, 'PUT', '/v1/config', allow, webWriter);
    expect(overwrite.status).to.equal(403);
    expect(overwrite.text).to.match(/operator:write/);
    const remove = await call(
      zone,
      'DELETE',
      '/v1/config/service-intentions/web',
      undefined,
      webWriter,
    );
    expect(remove.status).to.equal(403);
    // Reading stays with service:read.
    const read = await call(zone, 'GET', '/v1/config/service-intentions/web', undefined, webReader);
    expect(read.status).to.equal(200);
    expect((read.json() as { Sources: { Action: string }[] }).Sources[0]?.Action).to.equal('deny');
    expect(
      (await call(zone, 'DELETE', '/v1/config/service-intentions/web', undefined, ROOT)).status,
    ).to.equal(200);
  });
});

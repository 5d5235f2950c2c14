/**
 * `/v1/config` for the exported-services kind against a real zone with ACLs: written,
 * read and deleted with operator access only (Consul asks mesh:write / mesh:read), a
 * token with service access to a service called "default" does not stand in for it, and
 * refusals are Consul's plain-text 400 naming the field.
 */
import { expect } from 'chai';
import { startZone } from '../../helpers/zone.ts';
import type { TestZone } from '../../helpers/zone.ts';

const ROOT = '7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f';

async function call(
  zone: TestZone,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; text: string; json: () => unknown }> {
  const res = await fetch(`${zone.url}${path}`, {
    method,
    headers: token ? { 'X-Consul-Token': token } : {},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as unknown };
}

const EXPORTS = {
  Kind: 'exported-services',
  Name: 'default',
  Services: [{ Name: 'api', Consumers: [{ Zone: 'west' }] }],
};

describe('exported-services config entries with ACLs (integration)', function () {
  let zone: TestZone;
  let serviceWriter: string;
  let operatorReader: string;
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
    // Write on every service, including one that happens to be called "default".
    serviceWriter = await token('service_prefix "" { policy = "write" }');
    operatorReader = await token('operator = "read"');
  });
  after(async function () {
    await zone?.stop();
  });

  it('writes, reads, lists and deletes the entry with operator access only', async function () {
    // The token does write service entries for "default": only exported-services refuses it.
    const defaults = { Kind: 'service-defaults', Name: 'default', Protocol: 'http' };
    expect((await call(zone, 'PUT', '/v1/config', defaults, serviceWriter)).status).to.equal(200);
    expect(
      (await call(zone, 'GET', '/v1/config/service-defaults/default', undefined, serviceWriter))
        .status,
    ).to.equal(200);
    const denied = await call(zone, 'PUT', '/v1/config', EXPORTS, serviceWriter);
    expect(denied.status).to.equal(403);
    expect(denied.text).to.match(/operator:write/);
    expect((await call(zone, 'PUT', '/v1/config', EXPORTS, ROOT)).json()).to.equal(true);

    const path = '/v1/config/exported-services/default';
    expect((await call(zone, 'GET', path, undefined, serviceWriter)).status).to.equal(403);
    const read = await call(zone, 'GET', path, undefined, operatorReader);
    expect(read.status).to.equal(200);
    expect(read.json()).to.deep.include({
      Kind: 'exported-services',
      Name: 'default',
      Services: [{ Name: 'api', Namespace: 'default', Consumers: [{ Zone: 'west' }] }],
    });
    const hidden = await call(
      zone,
      'GET',
      '/v1/config/exported-services',
      undefined,
      serviceWriter,
    );
    expect(hidden.json()).to.deep.equal([]);
    const listed = await call(
      zone,
      'GET',
      '/v1/config/exported-services',
      undefined,
      operatorReader,
    );
    expect((listed.json() as { Name: string }[]).map((e) => e.Name)).to.deep.equal(['default']);

    expect((await call(zone, 'DELETE', path, undefined, serviceWriter)).status).to.equal(403);
    expect((await call(zone, 'DELETE', path, undefined, operatorReader)).status).to.equal(403);
    expect((await call(zone, 'DELETE', path, undefined, ROOT)).status).to.equal(200);
    expect((await call(zone, 'GET', path, undefined, ROOT)).status).to.equal(404);
  });

  it('answers a plain-text 400 naming the field for a consumer Causeway does not support', async function () {
    const res = await call(
      zone,
      'PUT',
      '/v1/config',
      { ...EXPORTS, Services: [{ Name: 'api', Consumers: [{ Peer: 'west' }] }] },
      ROOT,
    );
    expect(res.status).to.equal(400);
    expect(res.text).to.match(
      /^Request decoding failed: Services\[0\]\.Consumers\[0\]\.Peer is not supported by Causeway/,
    );
    const named = await call(zone, 'PUT', '/v1/config', { ...EXPORTS, Name: 'east' }, ROOT);
    expect(named.status).to.equal(400);
    expect(named.text).to.match(/^Request decoding failed: Name must be "default"/);
  });
});

/**
 * `/v1/acl/token*` and `/v1/acl/polic*` on a real zone with ACLs on: Consul's shapes,
 * permissions, status codes and error texts, on the embedded store and on a real Redis.
 */
import { expect } from 'chai';
import { forEachBackend } from '../helpers/zone.ts';

const ROOT = 'c7142d5a-9ab1-78ba-f521-189971e29c24';
const ANONYMOUS = '00000000-0000-0000-0000-000000000002';
const GLOBAL_MANAGEMENT = '00000000-0000-0000-0000-000000000001';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Answer {
  status: number;
  text: string;
  headers: Headers;
  json<T = Record<string, unknown>>(): T;
}

forEachBackend('ACL token and policy API', { dev: false, bootstrapToken: ROOT }, (env) => {
  async function api(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; raw?: string } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (opts.token !== undefined) headers['X-Consul-Token'] = opts.token;
    const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
    const res = await fetch(`${env.zone.url}${path}`, { method, headers, body });
    const text = await res.text();
    return {
      status: res.status,
      text,
      headers: res.headers,
      json: <T>() => JSON.parse(text) as T,
    };
  }
  const root = (method: string, path: string, body?: unknown): Promise<Answer> =>
    api(method, path, { token: ROOT, body });

  async function policy(name: string, rules: string): Promise<string> {
    const res = await root('PUT', '/v1/acl/policy', { Name: name, Rules: rules });
    expect(res.status, res.text).to.equal(200);
    return res.json<{ ID: string }>().ID;
  }
  async function token(body: unknown): Promise<{ AccessorID: string; SecretID: string }> {
    const res = await root('PUT', '/v1/acl/token', body);
    expect(res.status, res.text).to.equal(200);
    return res.json();
  }

  it('refuses a request without a token as the anonymous token', async function () {
    const res = await api('GET', '/v1/acl/tokens');
    expect(res.status).to.equal(403);
    expect(res.headers.get('content-type')).to.match(/^text\/plain/);
    expect(res.headers.get('x-consul-default-acl-policy')).to.equal('deny');
    expect(res.text).to.equal(
      "Permission denied: anonymous token lacks permission 'acl:read'. The anonymous token is used implicitly when a request does not specify a token.\n",
    );
  });

  it('accepts the management token as X-Consul-Token, Bearer and ?token=', async function () {
    const ways: RequestInit[] = [
      { headers: { 'X-Consul-Token': ROOT } },
      { headers: { Authorization: `Bearer ${ROOT}` } },
    ];
    for (const init of ways) {
      const res = await fetch(`${env.zone.url}/v1/acl/token/self`, init);
      expect(res.status).to.equal(200);
      expect(((await res.json()) as { SecretID: string }).SecretID).to.equal(ROOT);
    }
    const query = await fetch(`${env.zone.url}/v1/acl/token/self?token=${ROOT}`);
    const self = (await query.json()) as Record<string, unknown>;
    expect(self).to.include({ SecretID: ROOT, Description: 'Initial Management Token' });
    expect(self.Policies).to.deep.equal([{ ID: GLOBAL_MANAGEMENT, Name: 'global-management' }]);
  });

  it('refuses an unknown token with 403 "ACL not found"', async function () {
    const res = await api('GET', '/v1/acl/policies', { token: 'not-a-real-token' });
    expect(res.status).to.equal(403);
    expect(res.text).to.equal('ACL not found\n');
  });

  it("creates, reads and lists a policy in Consul's shape", async function () {
    const rules = 'key_prefix "shape/" { policy = "read" }';
    const created = await root('PUT', '/v1/acl/policy', {
      Name: 'shape-read',
      Description: 'reads shape/',
      Rules: rules,
      Datacenters: ['test'],
    });
    expect(created.status).to.equal(200);
    const p = created.json();
    expect(Object.keys(p)).to.deep.equal([
      'ID',
      'Name',
      'Description',
      'Rules',
      'Datacenters',
      'Hash',
      'CreateIndex',
      'ModifyIndex',
    ]);
    expect(p).to.include({ Name: 'shape-read', Description: 'reads shape/', Rules: rules });
    expect(p.ID).to.match(UUID);
    expect(p.Datacenters).to.deep.equal(['test']);
    const byId = await root('GET', `/v1/acl/policy/${p.ID as string}`);
    expect(byId.json()).to.deep.equal(p);
    expect(Number(byId.headers.get('x-consul-index'))).to.be.at.least(p.ModifyIndex as number);
    expect(byId.headers.get('x-consul-knownleader')).to.equal('true');
    expect((await root('GET', '/v1/acl/policy/name/shape-read')).json()).to.deep.equal(p);
    const list = (await root('GET', '/v1/acl/policies')).json<Record<string, unknown>[]>();
    const stub = list.find((s) => s.ID === p.ID);
    expect(stub).to.not.have.property('Rules');
    expect(stub).to.include({ Name: 'shape-read', Hash: p.Hash });
    expect(list.find((s) => s.ID === GLOBAL_MANAGEMENT)).to.include({
      Name: 'global-management',
      Description: 'Builtin Policy that grants unlimited access',
      Datacenters: null,
    });
  });

  it('creates a token linked by policy name and shows its SecretID only at creation', async function () {
    const policyId = await policy('shape-token', 'acl = "read"');
    const created = await root('PUT', '/v1/acl/token', {
      Description: 'shape test',
      Policies: [{ Name: 'shape-token' }],
    });
    const t = created.json();
    expect(Object.keys(t)).to.deep.equal([
      'AccessorID',
      'SecretID',
      'Description',
      'Policies',
      'Local',
      'CreateTime',
      'Hash',
      'CreateIndex',
      'ModifyIndex',
    ]);
    expect(t.AccessorID).to.match(UUID);
    expect(t.SecretID).to.match(UUID);
    expect(t.Policies).to.deep.equal([{ ID: policyId, Name: 'shape-token' }]);
    expect(t).to.include({ Description: 'shape test', Local: false });
    expect(Date.parse(t.CreateTime as string)).to.not.be.NaN;

    const read = (await root('GET', `/v1/acl/token/${t.AccessorID as string}`)).json();
    expect(read).to.deep.equal({ ...t, SecretID: '<hidden>' });
    const self = await api('GET', '/v1/acl/token/self', { token: t.SecretID as string });
    expect(self.json()).to.deep.equal(t);
  });

  it('lists tokens, including the anonymous and management tokens, and filters by policy', async function () {
    const policyId = await policy('list-filter', 'acl = "read"');
    const t = await token({ Policies: [{ ID: policyId }] });
    const all = (await root('GET', '/v1/acl/tokens')).json<Record<string, unknown>[]>();
    const anonymous = all.find((s) => s.AccessorID === ANONYMOUS);
    expect(anonymous).to.include({
      SecretID: '<hidden>',
      Description: 'Anonymous Token',
      Policies: null,
    });
    expect(all.some((s) => s.Description === 'Initial Management Token')).to.equal(true);
    const filtered = (await root('GET', `/v1/acl/tokens?policy=${policyId}`)).json<
      { AccessorID: string }[]
    >();
    expect(filtered.map((s) => s.AccessorID)).to.deep.equal([t.AccessorID]);
    expect((await root('GET', '/v1/acl/tokens?role=any')).json()).to.deep.equal([]);
  });

  it('updates a token, keeping its secret, and refuses to change the secret', async function () {
    const t = await token({ Description: 'before' });
    const pid = await policy('update-target', 'acl = "read"');
    const updated = await root('PUT', `/v1/acl/token/${t.AccessorID}`, {
      Description: 'after',
      Policies: [{ ID: pid }],
    });
    expect(updated.status).to.equal(200);
    expect(updated.json()).to.include({ Description: 'after', SecretID: '<hidden>' });
    const self = await api('GET', '/v1/acl/token/self', { token: t.SecretID });
    expect(self.json()).to.include({ Description: 'after' });
    const change = await root('PUT', `/v1/acl/token/${t.AccessorID}`, {
      SecretID: '11111111-2222-3333-4444-555555555555',
    });
    expect(change.status).to.equal(400);
    expect(change.text).to.equal('Changing a tokens SecretID is not permitted\n');
    const mismatch = await root('PUT', `/v1/acl/token/${t.AccessorID}`, { AccessorID: ROOT });
    expect(mismatch.text).to.equal('Token Accessor ID in URL and payload do not match\n');
  });

  it('stops honouring a deleted token on the very next request', async function () {
    const pid = await policy('revoke-me', 'acl = "read"');
    const t = await token({ Policies: [{ ID: pid }] });
    expect((await api('GET', '/v1/acl/policies', { token: t.SecretID })).status).to.equal(200);
    const del = await root('DELETE', `/v1/acl/token/${t.AccessorID}`);
    expect(del.status).to.equal(200);
    expect(del.json()).to.equal(true);
    const after = await api('GET', '/v1/acl/policies', { token: t.SecretID });
    expect(after.status).to.equal(403);
    expect(after.text).to.equal('ACL not found\n');
  });

  it('applies a policy change to every token linked to it at once', async function () {
    const pid = await policy('shrinking', 'acl = "read"');
    const t = await token({ Policies: [{ ID: pid }] });
    expect((await api('GET', '/v1/acl/tokens', { token: t.SecretID })).status).to.equal(200);
    await root('PUT', `/v1/acl/policy/${pid}`, { Name: 'shrinking', Rules: 'acl = "deny"' });
    expect((await api('GET', '/v1/acl/tokens', { token: t.SecretID })).status).to.equal(403);
    await root('PUT', `/v1/acl/policy/${pid}`, { Name: 'shrinking', Rules: 'acl = "read"' });
    expect((await api('GET', '/v1/acl/tokens', { token: t.SecretID })).status).to.equal(200);
    await root('DELETE', `/v1/acl/policy/${pid}`);
    const gone = await api('GET', '/v1/acl/tokens', { token: t.SecretID });
    expect(gone.status).to.equal(403);
    expect((await root('GET', `/v1/acl/token/${t.AccessorID}`)).json()).to.not.have.property(
      'Policies',
    );
  });

  it('lets a read-only token read ACLs but not change them', async function () {
    const pid = await policy('acl-reader', 'acl = "read"');
    const t = await token({ Policies: [{ ID: pid }] });
    expect((await api('GET', '/v1/acl/policies', { token: t.SecretID })).status).to.equal(200);
    const write = await api('PUT', '/v1/acl/policy', {
      token: t.SecretID,
      body: { Name: 'nope' },
    });
    expect(write.status).to.equal(403);
    expect(write.text).to.equal(
      `Permission denied: token with AccessorID '${t.AccessorID}' lacks permission 'acl:write'\n`,
    );
  });

  it('lets deny in one policy beat allow in another', async function () {
    const allow = await policy('allow-acl', 'acl = "write"');
    const deny = await policy('deny-acl', '{"acl": "deny"}');
    const t = await token({ Policies: [{ ID: allow }, { ID: deny }] });
    expect((await api('GET', '/v1/acl/policies', { token: t.SecretID })).status).to.equal(403);
  });

  it('grants inline token Rules (a Causeway extension)', async function () {
    const t = await token({ Rules: 'acl = "read"' });
    expect((await api('GET', '/v1/acl/policies', { token: t.SecretID })).status).to.equal(200);
    expect((await root('GET', `/v1/acl/token/${t.AccessorID}`)).json()).to.include({
      Rules: 'acl = "read"',
    });
  });

  it('gives the anonymous token rights only once a policy is linked to it', async function () {
    const pid = await policy('anonymous-reads', 'acl = "read"');
    expect((await api('GET', '/v1/acl/policies')).status).to.equal(403);
    const linked = await root('PUT', `/v1/acl/token/${ANONYMOUS}`, {
      Description: 'Anonymous Token',
      Policies: [{ ID: pid }],
    });
    expect(linked.status, linked.text).to.equal(200);
    expect((await api('GET', '/v1/acl/policies')).status).to.equal(200);
    await root('PUT', `/v1/acl/token/${ANONYMOUS}`, { Description: 'Anonymous Token' });
    expect((await api('GET', '/v1/acl/policies')).status).to.equal(403);
  });

  it('answers bad token bodies with 400 naming the problem', async function () {
    const cases: [unknown, string][] = [
      [{ Description: 5 }, 'Token decoding failed: Description must be a string'],
      [{ Policies: {} }, 'Token decoding failed: Policies must be a list of objects'],
      [{ Policies: [{ Name: 'missing' }] }, 'No such ACL policy with name "missing"'],
      [
        { Policies: [{ ID: '7d5e7c4a-1a87-4a3c-9ce5-4ef9a3c3b111' }] },
        'No such ACL policy with ID "7d5e7c4a-1a87-4a3c-9ce5-4ef9a3c3b111"',
      ],
      [{ Roles: [{ Name: 'ops' }] }, 'No such ACL role with name "ops"'],
      [{ Type: 'management' }, 'Type cannot be specified for this token'],
      [{ AccessorID: 'abc' }, 'Invalid Token: AccessorID is not a valid UUID'],
      [{ Rules: 'key "x" { policy = "all" }' }, 'Invalid key policy for "x": "all"'],
      [{ ExpirationTTL: '10s' }, 'ExpirationTime cannot be less than 1m0s in the future'],
      [{ ExpirationTTL: '48h' }, 'ExpirationTime cannot be more than 24h0m0s in the future'],
      [{ ServiceIdentities: [{}] }, 'Service identity is missing the service name field'],
    ];
    for (const [body, message] of cases) {
      const res = await root('PUT', '/v1/acl/token', body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.text, JSON.stringify(body)).to.include(message);
    }
    const malformed = await api('PUT', '/v1/acl/token', { token: ROOT, raw: '{"Description":' });
    expect(malformed.status).to.equal(400);
    expect(malformed.text).to.match(/^Request decode failed: invalid JSON/);
  });

  it('answers bad policy bodies with 400 and a taken name with 409', async function () {
    const cases: [unknown, string][] = [
      [{}, 'Invalid Policy: no Name is set'],
      [{ Name: 'has space' }, 'Invalid Policy: invalid Name.'],
      [{ Name: 'x', ID: GLOBAL_MANAGEMENT }, 'Cannot specify the ID when creating a new policy'],
      [{ Name: 'x', Rules: 'key_prefix = {' }, 'Failed to parse ACL rules'],
      [{ Name: 'x', Datacenters: 'dc1' }, 'Policy decoding failed: Datacenters must be a list'],
    ];
    for (const [body, message] of cases) {
      const res = await root('PUT', '/v1/acl/policy', body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.text, JSON.stringify(body)).to.include(message);
    }
    await policy('taken', '');
    const dup = await root('PUT', '/v1/acl/policy', { Name: 'taken' });
    expect(dup.status).to.equal(409);
    expect(dup.text).to.equal('Invalid Policy: A Policy with Name "taken" already exists\n');
  });

  it('protects the builtin policy, the anonymous token and the caller’s own token', async function () {
    const gm = await root('DELETE', `/v1/acl/policy/${GLOBAL_MANAGEMENT}`);
    expect(gm.status).to.equal(400);
    expect(gm.text).to.equal(
      'Delete operation not permitted on the builtin global-management policy\n',
    );
    const rules = await root('PUT', `/v1/acl/policy/${GLOBAL_MANAGEMENT}`, {
      Name: 'global-management',
      Rules: 'acl = "read"',
    });
    expect(rules.text).to.equal(
      'Changing the Rules for the builtin global-management policy is not permitted\n',
    );
    const anon = await root('DELETE', `/v1/acl/token/${ANONYMOUS}`);
    expect(anon.text).to.equal('Delete operation not permitted on the anonymous token\n');
    const self = (await root('GET', '/v1/acl/token/self')).json<{ AccessorID: string }>();
    const own = await root('DELETE', `/v1/acl/token/${self.AccessorID}`);
    expect(own.status).to.equal(400);
    expect(own.text).to.equal("Deletion of the request's authorization token is not permitted\n");
  });

  it('answers 404 for tokens and policies that do not exist', async function () {
    const id = '5b1a7a7e-0000-4000-8000-000000000099';
    const cases: [string, string, string][] = [
      ['GET', `/v1/acl/token/${id}`, 'Requested token does not exist: ACL not found'],
      ['GET', `/v1/acl/policy/${id}`, 'Requested policy does not exist: ACL not found'],
      ['GET', '/v1/acl/policy/name/nobody', 'Requested policy does not exist: ACL not found'],
      ['DELETE', `/v1/acl/token/${id}`, 'Cannot find token to delete'],
      ['DELETE', `/v1/acl/policy/${id}`, 'Cannot find policy to delete'],
    ];
    for (const [method, path, message] of cases) {
      const res = await root(method, path);
      expect(res.status, path).to.equal(404);
      expect(res.text, path).to.equal(`${message}\n`);
    }
    expect((await api('GET', '/v1/acl/token/self')).text).to.equal(
      'Supplied token does not exist\n',
    );
  });

  it('clones a token with a fresh AccessorID and SecretID', async function () {
    const pid = await policy('clone-src', 'acl = "read"');
    const src = await token({ Description: 'original', Policies: [{ ID: pid }] });
    const res = await root('PUT', `/v1/acl/token/${src.AccessorID}/clone`, {
      Description: 'copy',
    });
    const copy = res.json();
    expect(copy).to.include({ Description: 'copy' });
    expect(copy.AccessorID).to.not.equal(src.AccessorID);
    expect(copy.Policies).to.deep.equal([{ ID: pid, Name: 'clone-src' }]);
    const works = await api('GET', '/v1/acl/policies', { token: copy.SecretID as string });
    expect(works.status).to.equal(200);
  });

  it('wakes a blocking token list when a token is created', async function () {
    const first = await root('GET', '/v1/acl/tokens');
    const index = Number(first.headers.get('x-consul-index'));
    expect(index).to.be.greaterThan(0);
    const blocked = api('GET', `/v1/acl/tokens?index=${index}&wait=10s`, { token: ROOT });
    const t = await token({ Description: 'wakes the list' });
    const woke = await blocked;
    expect(Number(woke.headers.get('x-consul-index'))).to.be.greaterThan(index);
    expect(woke.json<{ AccessorID: string }[]>().map((s) => s.AccessorID)).to.include(t.AccessorID);
  });

  it('answers 405 for a method a path does not take', async function () {
    const res = await root('GET', '/v1/acl/token');
    expect(res.status).to.equal(405);
  });
});

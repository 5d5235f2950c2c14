/**
 * `/v1/session/*` on a real zone, through the `consul` npm client and raw HTTP: create
 * with Consul's defaults and with every field, info/list/node with their shapes and
 * headers, renew, destroy, blocking reads, and the refusals — on embedded and Redis.
 */
import { expect } from 'chai';
import { withTimeout } from '../helpers/async.ts';
import { forEachBackend } from '../helpers/zone.ts';

interface ConsulSession {
  ID: string;
  Name: string;
  Node: string;
  LockDelay: number;
  Behavior: string;
  TTL: string;
  NodeChecks: string[] | null;
  ServiceChecks: { ID: string }[] | null;
  CreateIndex: number;
  ModifyIndex: number;
}

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

forEachBackend('Consul session API', (env) => {
  const call = (method: string, path: string, body?: unknown): Promise<Response> =>
    fetch(`${env.zone.url}/v1/session/${path}`, {
      method,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });

  async function create(body?: unknown): Promise<string> {
    const res = await call('PUT', 'create', body);
    expect(res.status).to.equal(200);
    return ((await res.json()) as { ID: string }).ID;
  }

  async function refused(res: Response, status: number): Promise<string> {
    expect(res.status).to.equal(status);
    expect(res.headers.get('content-type')).to.match(/^text\/plain/);
    return (await res.text()).trimEnd();
  }

  it("creates a session with Consul's defaults and reads it back", async function () {
    const { ID } = await env.consul.session.create();
    expect(ID).to.match(/^[0-9a-f-]{36}$/);
    const res = await call('GET', `info/${ID}`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('application/json');
    expect(res.headers.get('x-consul-knownleader')).to.equal('true');
    expect(Number(res.headers.get('x-consul-index'))).to.be.at.least(1);
    const [s] = (await res.json()) as ConsulSession[];
    expect(Object.keys(s ?? {})).to.deep.equal([
      'ID',
      'Name',
      'Node',
      'LockDelay',
      'Behavior',
      'TTL',
      'NodeChecks',
      'ServiceChecks',
      'CreateIndex',
      'ModifyIndex',
    ]);
    expect(s).to.deep.include({
      ID,
      Name: '',
      Node: 'test',
      LockDelay: 15_000_000_000,
      Behavior: 'release',
      TTL: '',
      NodeChecks: ['serfHealth'],
      ServiceChecks: null,
    });
    expect(s?.ModifyIndex).to.equal(s?.CreateIndex);
    const viaClient = (await env.consul.session.info(ID)) as ConsulSession;
    expect(viaClient.ID).to.equal(ID);
  });

  it('creates a session with every field set', async function () {
    const id = await create({
      Name: 'my-lock',
      Node: 'node-a',
      LockDelay: '5s',
      Behavior: 'delete',
      TTL: '30s',
      NodeChecks: ['a'],
      ServiceChecks: [{ ID: 'svc-check', Namespace: 'default' }],
      Namespace: 'ignored',
    });
    const [s] = (await (await call('GET', `info/${id}`)).json()) as ConsulSession[];
    expect(s).to.deep.include({
      Name: 'my-lock',
      Node: 'node-a',
      LockDelay: 5_000_000_000,
      Behavior: 'delete',
      TTL: '30s',
      NodeChecks: ['a'],
      ServiceChecks: [{ ID: 'svc-check', Namespace: 'default' }],
    });
  });

  it('reads small numeric lock delays as seconds, as Consul does', async function () {
    const id = await create({ lockdelay: 20, behavior: 'release' });
    const [s] = (await (await call('GET', `info/${id}`)).json()) as ConsulSession[];
    expect(s?.LockDelay).to.equal(20_000_000_000);
    const ns = await create({ LockDelay: 2_000_000_000 });
    const [t] = (await (await call('GET', `info/${ns}`)).json()) as ConsulSession[];
    expect(t?.LockDelay).to.equal(2_000_000_000);
  });

  it('caps lock delays at 60s, as Consul does, so every stored value is a Go duration', async function () {
    for (const LockDelay of [1e300, '9999999h']) {
      const id = await create({ LockDelay });
      const [s] = (await (await call('GET', `info/${id}`)).json()) as ConsulSession[];
      expect(s?.LockDelay, String(LockDelay)).to.equal(60_000_000_000);
    }
  });

  it('lists sessions, and those of one node', async function () {
    const a = await create({ Node: 'list-a' });
    const b = await create({ Node: 'list-b' });
    const all = (await env.consul.session.list()) as ConsulSession[];
    expect(all.map((s) => s.ID)).to.include.members([a, b]);
    const ids = all.map((s) => s.ID);
    expect(ids).to.deep.equal([...ids].sort());
    const res = await call('GET', 'node/list-a');
    expect(res.headers.get('x-consul-knownleader')).to.equal('true');
    expect(((await res.json()) as ConsulSession[]).map((s) => s.ID)).to.deep.equal([a]);
    expect(await env.consul.session.node('no-such-node')).to.deep.equal([]);
  });

  it('renews a session and answers it, or 404 when it is gone', async function () {
    const id = await create({ TTL: '15s' });
    const renewed = (await env.consul.session.renew(id)) as ConsulSession[];
    expect(renewed).to.have.length(1);
    expect(renewed[0]).to.include({ ID: id, TTL: '15s' });
    const gone = await call('PUT', `renew/${UNKNOWN}`);
    expect(await refused(gone, 404)).to.equal(`Session id '${UNKNOWN}' not found`);
  });

  it('destroys a session, idempotently', async function () {
    const id = await create();
    const res = await call('PUT', `destroy/${id}`);
    expect(res.status).to.equal(200);
    expect(await res.json()).to.equal(true);
    const info = await call('GET', `info/${id}`);
    expect(info.status).to.equal(200);
    expect(await info.json()).to.deep.equal([]);
    expect(await (await call('PUT', `destroy/${id}`)).json()).to.equal(true);
  });

  it('holds a blocking session list until a session is created', async function () {
    const first = await call('GET', 'list');
    const index = first.headers.get('x-consul-index') ?? '0';
    const blocked = call('GET', `list?index=${index}&wait=10s`);
    const id = await create({ Name: 'wakes-the-list' });
    const res = await withTimeout(blocked, 5000, 'blocking session list');
    expect(((await res.json()) as ConsulSession[]).map((s) => s.ID)).to.include(id);
    expect(Number(res.headers.get('x-consul-index'))).to.be.greaterThan(Number(index));
  });

  it("refuses TTLs out of Consul's bounds and bad behaviours with Consul's texts", async function () {
    expect(await refused(await call('PUT', 'create', { TTL: '5s' }), 400)).to.equal(
      "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]",
    );
    expect(await refused(await call('PUT', 'create', { TTL: '86401s' }), 400)).to.equal(
      "Invalid Session TTL '86401000000000', must be between [10s=24h0m0s]",
    );
    expect(await refused(await call('PUT', 'create', { TTL: 'soon' }), 400)).to.equal(
      'Session TTL \'soon\' invalid: time: invalid duration "soon"',
    );
    expect(await refused(await call('PUT', 'create', { Behavior: 'explode' }), 400)).to.equal(
      "Invalid Behavior setting 'explode'",
    );
    expect(await refused(await call('PUT', 'create', { Node: '' }), 400)).to.equal(
      'Must provide Node',
    );
  });

  it('refuses malformed bodies and fields of the wrong type, creating nothing', async function () {
    const before = ((await env.consul.session.list()) as ConsulSession[]).length;
    expect(await refused(await call('PUT', 'create', '{"Name":'), 400)).to.match(
      /^Request decode failed: invalid JSON/,
    );
    expect(await refused(await call('PUT', 'create', '[1]'), 400)).to.equal(
      'Request decode failed: the body must be a JSON object',
    );
    expect(await refused(await call('PUT', 'create', { Name: 5 }), 400)).to.equal(
      'Request decode failed: Name must be a string',
    );
    expect(await refused(await call('PUT', 'create', { LockDelay: '20' }), 400)).to.equal(
      'Request decode failed: time: invalid duration "20"',
    );
    expect(await refused(await call('PUT', 'create', { LockDelay: -1 }), 400)).to.equal(
      'Request decode failed: LockDelay must not be negative',
    );
    expect(await refused(await call('PUT', 'create', { LockDelay: '-5s' }), 400)).to.equal(
      'Request decode failed: LockDelay must not be negative',
    );
    expect(await refused(await call('PUT', 'create', { NodeChecks: 'a' }), 400)).to.equal(
      'Request decode failed: NodeChecks must be an array of strings',
    );
    expect(((await env.consul.session.list()) as ConsulSession[]).length).to.equal(before);
  });

  it('refuses missing and malformed session IDs', async function () {
    expect(await refused(await call('PUT', 'destroy/'), 400)).to.equal('Missing session');
    expect(await refused(await call('PUT', 'renew'), 400)).to.equal('Missing session');
    expect(await refused(await call('GET', 'info/'), 400)).to.equal('Missing session');
    expect(await refused(await call('GET', 'node/'), 400)).to.equal('Missing node name');
    expect(await refused(await call('GET', 'info/nope'), 400)).to.equal(
      'Invalid session ID "nope": not a UUID',
    );
  });

  it('answers 405 for the wrong method', async function () {
    expect((await call('GET', 'create')).status).to.equal(405);
    expect((await call('POST', 'list')).status).to.equal(405);
    expect((await call('DELETE', `destroy/${UNKNOWN}`)).status).to.equal(405);
  });
});

/**
 * `GET /api/gateways/<name>/config` on a real zone (embedded and Redis): instances with
 * sidecars (registered over the proxy config stream, as proxies do), an exported-services
 * entry and other zones' gateways as zone sync stores them come back as a gateway config
 * the gateway's own decoder accepts; a blocking read sleeps through writes that do not
 * change the config and wakes on one that does; a bad name is a 400; with ACLs on, the
 * gateway's token needs service:write on its name.
 */
import { expect } from 'chai';
import { decodeGatewayConfig } from '../../../core/index.ts';
import type { GatewayConfig } from '../../../core/index.ts';
import { eventually, raceTimeout } from '../../helpers/async.ts';
import { TEST_TRUST_DOMAIN } from '../../helpers/ca.ts';
import { StreamClient, helloFrame } from '../../helpers/proxy-stream-client.ts';
import { forEachBackend, startZone } from '../../helpers/zone.ts';
import type { TestZone } from '../../helpers/zone.ts';

function stored(body: unknown): Buffer {
  return Buffer.from(
    JSON.stringify({ version: String(Date.now()), body, receivedAt: new Date().toISOString() }),
  );
}

async function putRemoteGateway(zone: TestZone, remote: string, name: string): Promise<void> {
  await zone.zone.store.put(
    `sync/global/remote-gateway/${remote}/${name}`,
    stored({
      zone: remote,
      name,
      publicAddress: '198.51.100.7:443',
      publicPort: 443,
      health: 'passing',
    }),
  );
}

interface Answer {
  status: number;
  index: number;
  config: GatewayConfig;
}

async function getConfig(zone: TestZone, query = '', token?: string): Promise<Answer> {
  const res = await fetch(`${zone.url}/api/gateways/gw-1/config${query}`, {
    headers: token === undefined ? {} : { 'X-Consul-Token': token },
  });
  const body = (await res.json()) as GatewayConfig;
  return { status: res.status, index: Number(res.headers.get('x-consul-index')), config: body };
}

async function send(zone: TestZone, method: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${zone.url}${path}`, { method, body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).to.equal(200);
}

forEachBackend('the gateway config API', (env) => {
  const clients: StreamClient[] = [];
  after(function () {
    for (const c of clients) c.close();
  });

  async function sidecar(service: string, instanceId: string, port: number): Promise<StreamClient> {
    const client = await StreamClient.connect(env.zone);
    clients.push(client);
    client.send(await helloFrame({ service, instanceId, port }));
    await client.next('config');
    return client;
  }

  it('answers the exported services’ sidecars and the other zones’ gateways as a valid gateway config', async function () {
    await sidecar('api', 'api-1', 21001);
    await sidecar('web', 'web-1', 21002);
    // Without a sidecar: not an endpoint.
    await send(env.zone, 'PUT', '/v1/catalog/register', {
      Node: 'legacy',
      Address: '10.4.0.1',
      Service: { ID: 'api-legacy', Service: 'api', Port: 8080 },
    });
    await send(env.zone, 'PUT', '/v1/config', {
      Kind: 'exported-services',
      Name: 'default',
      Services: [
        { Name: 'api', Consumers: [{ Zone: 'west' }, { Zone: 'central' }] },
        { Name: 'billing', Consumers: [{ Zone: '*' }] },
      ],
    });
    await putRemoteGateway(env.zone, 'west', 'gw-a');
    // This zone's own gateway, echoed back: never its own peer.
    await putRemoteGateway(env.zone, 'test', 'gw-1');

    const answer = await getConfig(env.zone);
    expect(answer.status).to.equal(200);
    expect(answer.index).to.be.above(0);
    expect(decodeGatewayConfig(answer.config)).to.deep.equal(answer.config);
    expect(answer.config).to.deep.include({
      zone: 'test',
      trustDomain: TEST_TRUST_DOMAIN,
      services: [
        {
          service: 'api',
          namespace: 'default',
          exportedTo: ['central', 'west'],
          endpoints: [
            { address: '127.0.0.1', port: 21001, health: 'passing', instanceId: 'api-1' },
          ],
        },
      ],
      peers: [{ zone: 'west', gateways: [{ name: 'gw-a', address: '198.51.100.7', port: 443 }] }],
    });
    expect(answer.config.version).to.match(/^[0-9a-f]{16}$/);
  });

  it('holds a blocking read through writes that leave the config unchanged and wakes when it changes', async function () {
    const api = clients[0];
    if (!api) throw new Error('the first test registers api-1');
    const first = await getConfig(env.zone);
    const pending = getConfig(env.zone, `?index=${first.index}&wait=30s`);
    // A catalog write about a service nobody exports: the watch fires, the config is equal.
    await send(env.zone, 'PUT', '/v1/catalog/register', {
      Node: 'other-node',
      Address: '10.4.0.2',
      Service: { ID: 'other-1', Service: 'other', Port: 80 },
    });
    expect((await raceTimeout(pending, 1000)).timedOut).to.equal(true);

    api.send({ type: 'health', status: 'critical', output: 'down' });
    const woke = await pending;
    expect(woke.index).to.be.above(first.index);
    expect(woke.config.version).not.to.equal(first.config.version);
    expect(woke.config.services[0]?.endpoints[0]).to.include({
      instanceId: 'api-1',
      health: 'critical',
    });

    // Caught up: a short wait with nothing new answers the same config when it runs out.
    const quiet = await getConfig(env.zone, `?index=${woke.index}&wait=300ms`);
    expect(quiet.config.version).to.equal(woke.config.version);
    api.send({ type: 'health', status: 'passing', output: 'ok' });
    await eventually(
      async () =>
        (await getConfig(env.zone)).config.services[0]?.endpoints[0]?.health === 'passing' ||
        undefined,
      'api-1 to pass again',
    );
  });

  it('wakes a blocked read when a peer gateway appears', async function () {
    const first = await getConfig(env.zone);
    const pending = getConfig(env.zone, `?index=${first.index}&wait=30s`);
    await putRemoteGateway(env.zone, 'central', 'gw-c');
    const woke = await pending;
    expect(woke.config.peers.map((p) => p.zone)).to.deep.equal(['central', 'west']);
  });

  it('refuses a name that is not a DNS label with 400 naming the field', async function () {
    const res = await fetch(`${env.zone.url}/api/gateways/GW_1/config`);
    expect(res.status).to.equal(400);
    const body = (await res.json()) as { error: { code: string; field: string } };
    expect(body.error).to.include({ code: 'CW_ERR_INVALID_ARGUMENT', field: 'name' });
  });
});

describe('the gateway config API with ACLs (integration)', function () {
  const ROOT = '6c3b2d5f-4e7a-4b9c-8d1e-2f3a4b5c6d7e';
  let zone: TestZone;

  before(async function () {
    zone = await startZone({ dev: false, bootstrapToken: ROOT });
  });
  after(async function () {
    await zone?.stop();
  });

  async function tokenWith(rules: string): Promise<string> {
    const res = await fetch(`${zone.url}/v1/acl/token`, {
      method: 'PUT',
      headers: { 'X-Consul-Token': ROOT },
      body: JSON.stringify({ Rules: rules }),
    });
    expect(res.status, await res.clone().text()).to.equal(200);
    return ((await res.json()) as { SecretID: string }).SecretID;
  }

  it('needs service:write on the gateway’s name', async function () {
    const own = await tokenWith('service "gw-1" { policy = "write" }');
    const reader = await tokenWith('service "gw-1" { policy = "read" }');
    const other = await tokenWith('service "gw-2" { policy = "write" }');
    const anonymous = await getConfig(zone);
    expect(anonymous.status).to.equal(403);
    expect((await getConfig(zone, '', reader)).status).to.equal(403);
    expect((await getConfig(zone, '', other)).status).to.equal(403);
    const allowed = await getConfig(zone, '', own);
    expect(allowed.status).to.equal(200);
    expect(decodeGatewayConfig(allowed.config)).to.deep.equal(allowed.config);
  });
});

/**
 * The config stream against proxies that misbehave or lose their rights: a token bound to
 * one service cannot take over, kick or deregister another service's instance; a deleted
 * token loses its stream; a bad hello changes nothing; a stream that goes away mid-hello
 * leaves nothing behind; a snapshot the proxy could not load is not pushed.
 */
import { expect } from 'chai';
import { createCsr, formatSpiffeId, generateKeyPair, readCatalog } from '../../core/index.ts';
import type { Store } from '../../core/index.ts';
import { eventually, sleep } from '../helpers/async.ts';
import { TEST_TRUST_DOMAIN, workloadId } from '../helpers/ca.ts';
import { StreamClient, helloFrame } from '../helpers/proxy-stream-client.ts';
import { startZone } from '../helpers/zone.ts';
import { ProxySession } from '../../zone-control/src/proxy-stream/proxy-session.ts';
import type { TestZone } from '../helpers/zone.ts';

const ROOT = '7b1c2b3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d';

async function api(zone: TestZone, method: string, path: string, body?: unknown, token = ROOT) {
  const res = await fetch(`${zone.url}${path}`, {
    method,
    headers: token ? { 'X-Consul-Token': token } : {},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json as Record<string, unknown> };
}

async function dataplaneToken(zone: TestZone, service: string) {
  const res = await api(zone, 'POST', '/api/dataplane-tokens', { service });
  expect(res.status).to.equal(201);
  return res.body as { secretId: string; accessorId: string };
}

async function checkStatus(store: Store, node: string, checkId: string) {
  return (await readCatalog(store)).check(node, checkId)?.status;
}

interface ProxyRow {
  instanceId: string;
  node: string;
  connected: boolean;
  configError?: string;
  configVersion: number;
}

async function proxies(zone: TestZone): Promise<ProxyRow[]> {
  return (await api(zone, 'GET', '/api/proxies')).body.proxies as ProxyRow[];
}

describe('proxy stream: identity and token checks (integration)', function () {
  let zone: TestZone;
  const clients: StreamClient[] = [];
  const connect = async (token: string): Promise<StreamClient> => {
    const c = await StreamClient.connect(zone, token);
    clients.push(c);
    return c;
  };
  before(async function () {
    zone = await startZone({ dev: false, bootstrapToken: ROOT });
  });
  afterEach(function () {
    for (const c of clients.splice(0)) c.close();
  });
  after(async function () {
    await zone?.stop();
  });

  it("refuses (409) a hello that reuses another service's instance ID, and leaves that instance and its stream alone", async function () {
    const db = await dataplaneToken(zone, 'db');
    const web = await dataplaneToken(zone, 'web');
    const dbProxy = await connect(db.secretId);
    dbProxy.send(
      await helloFrame({
        service: 'db',
        instanceId: 'db-1',
        node: 'db-vm',
        address: '10.0.0.5',
      }),
    );
    await dbProxy.next('config');

    const attacker = await connect(web.secretId);
    attacker.send(
      await helloFrame({
        service: 'web',
        instanceId: 'db-1',
        node: 'db-vm',
        address: '10.6.6.6',
      }),
    );
    const refused = await attacker.next('error');
    expect(refused).to.include({ code: 'CW_ERR_CONFLICT', field: 'instanceId' });
    expect(await attacker.closed()).to.equal(1008);
    // A leave on a refused stream is not read at all; the db instance is untouched.
    await sleep(200);
    expect(dbProxy.closeCode).to.equal(undefined);
    const catalog = await readCatalog(zone.zone.store);
    expect(catalog.instance('db-vm', 'db-1')).to.include({ service: 'db', address: '10.0.0.5' });
    expect(catalog.check('db-vm', 'proxy:db-1:stream')?.status).to.equal('passing');
    expect(catalog.node('db-vm')).to.not.equal(undefined);
  });

  it('refuses (403) a hello outside the default namespace for a service-scoped token; operator:write may', async function () {
    const web = await dataplaneToken(zone, 'web');
    const prodId = formatSpiffeId({
      kind: 'workload',
      trustDomain: TEST_TRUST_DOMAIN,
      zone: 'test',
      namespace: 'prod',
      service: 'web',
    });
    const prodHello = async (instanceId: string) =>
      helloFrame({
        service: 'web',
        namespace: 'prod',
        instanceId,
        csr: createCsr({ keyPair: await generateKeyPair(), spiffeId: prodId }),
      });
    const scoped = await connect(web.secretId);
    scoped.send(await prodHello('web-prod-1'));
    const refused = await scoped.next('error');
    expect(refused.code).to.equal('CW_ERR_PERMISSION_DENIED');
    expect(refused.message).to.match(/namespace "prod" needs operator:write/);
    expect(scoped.all('leaf')).to.deep.equal([]);
    expect((await readCatalog(zone.zone.store)).instance('web-prod-1', 'web-prod-1')).to.equal(
      undefined,
    );

    const operator = await connect(ROOT);
    operator.send(await prodHello('web-prod-2'));
    expect((await operator.next('config')).snapshot).to.include({ namespace: 'prod' });
  });

  it('refuses a renewal CSR (403) and closes the stream once its token is deleted', async function () {
    const web = await dataplaneToken(zone, 'web');
    const client = await connect(web.secretId);
    client.send(await helloFrame({ service: 'web', instanceId: 'web-renew' }));
    await client.next('config');
    const deleted = await api(zone, 'DELETE', `/v1/acl/token/${web.accessorId}`);
    expect(deleted.status).to.equal(200);
    const leaves = client.all('leaf').length;
    const frames = client.frames.length;
    client.send({
      type: 'csr',
      csr: createCsr({ keyPair: await generateKeyPair(), spiffeId: workloadId('web') }),
    });
    const refused = await client.next('error', frames);
    expect(refused.code).to.equal('CW_ERR_PERMISSION_DENIED');
    expect(refused.message).to.match(/no longer valid/);
    expect(await client.closed()).to.equal(1008);
    expect(client.all('leaf')).to.have.length(leaves);
  });
});

describe('proxy stream: a deleted token on the heartbeat (integration)', function () {
  let zone: TestZone;
  before(async function () {
    zone = await startZone({
      dev: false,
      bootstrapToken: ROOT,
      proxyCheckTtl: '1s',
      proxyDeregisterAfter: '1m',
    });
  });
  after(async function () {
    await zone?.stop();
  });

  it('closes the stream of a deleted token without waiting for a CSR, and the instance turns critical', async function () {
    const web = await dataplaneToken(zone, 'web');
    const client = await StreamClient.connect(zone, web.secretId);
    try {
      client.send(await helloFrame({ service: 'web', instanceId: 'web-hb' }));
      await client.next('config');
      await api(zone, 'DELETE', `/v1/acl/token/${web.accessorId}`);
      const refused = await client.next('error');
      expect(refused.code).to.equal('CW_ERR_PERMISSION_DENIED');
      expect(await client.closed()).to.equal(1008);
      await eventually(
        async () =>
          (await checkStatus(zone.zone.store, 'web-hb', 'proxy:web-hb:stream')) === 'critical' ||
          undefined,
        'the stream check to turn critical',
        10_000,
      );
    } finally {
      client.close();
    }
  });
});

describe('proxy stream: sessions (integration)', function () {
  let zone: TestZone;
  const clients: StreamClient[] = [];
  const connect = async (): Promise<StreamClient> => {
    const c = await StreamClient.connect(zone);
    clients.push(c);
    return c;
  };
  before(async function () {
    // The check TTL stays long (30 s), so a check that turns critical was marked so, not
    // expired.
    zone = await startZone({ proxyDeregisterAfter: '1s' });
  });
  afterEach(function () {
    for (const c of clients.splice(0)) c.close();
  });
  after(async function () {
    await zone?.stop();
  });

  it('keeps two proxies that use the same instance ID on two nodes both connected', async function () {
    const a = await connect();
    a.send(
      await helloFrame({ service: 'web', instanceId: 'web', node: 'vm-a', address: '10.0.0.1' }),
    );
    await a.next('config');
    const b = await connect();
    b.send(
      await helloFrame({ service: 'web', instanceId: 'web', node: 'vm-b', address: '10.0.0.2' }),
    );
    await b.next('config');
    await sleep(200);
    expect(a.closeCode).to.equal(undefined);
    const rows = (await proxies(zone)).filter((p) => p.instanceId === 'web');
    expect(rows.map((p) => [p.node, p.connected])).to.deep.equal([
      ['vm-a', true],
      ['vm-b', true],
    ]);
    const store = zone.zone.store;
    expect(await checkStatus(store, 'vm-a', 'proxy:web:stream')).to.equal('passing');
    expect(await checkStatus(store, 'vm-b', 'proxy:web:stream')).to.equal('passing');
  });

  it("does not let a hello with a bad CSR kick the instance's healthy stream or mark it critical", async function () {
    const good = await connect();
    good.send(await helloFrame({ service: 'web', instanceId: 'web-csr', node: 'vm1' }));
    await good.next('config');
    const bad = await connect();
    bad.send(
      await helloFrame({ service: 'web', instanceId: 'web-csr', node: 'vm1', csr: 'not a csr' }),
    );
    expect(await bad.next('error')).to.include({ code: 'CW_ERR_INVALID_ARGUMENT', field: 'csr' });
    // And a CSR for another identity than the hello's.
    const other = await connect();
    other.send(
      await helloFrame({
        service: 'web',
        instanceId: 'web-csr',
        node: 'vm1',
        csr: createCsr({ keyPair: await generateKeyPair(), spiffeId: workloadId('db') }),
      }),
    );
    expect((await other.next('error')).code).to.equal('CW_ERR_PERMISSION_DENIED');
    await sleep(300);
    expect(good.closeCode).to.equal(undefined);
    expect(await checkStatus(zone.zone.store, 'vm1', 'proxy:web-csr:stream')).to.equal('passing');
  });

  /**
   * Count the CA subscriptions and slow the store round trip between the leaf and the
   * bundle: the window in which a stream closes, and in which the hello's own registration
   * triggers a config rebuild. Returns the live count and a restore function.
   */
  function instrumentCa(): { live: () => number; restore: () => void } {
    const ca = zone.zone.ca as unknown as Record<string, (...args: unknown[]) => unknown>;
    const originals = {
      onBundleChange: ca.onBundleChange,
      onRevocationChange: ca.onRevocationChange,
      revocations: ca.revocations,
    };
    let live = 0;
    for (const m of ['onBundleChange', 'onRevocationChange'] as const) {
      const orig = (originals[m] as (l: unknown) => () => void).bind(zone.zone.ca);
      ca[m] = (listener: unknown) => {
        live++;
        const off = orig(listener);
        return () => {
          live--;
          off();
        };
      };
    }
    const revocations = (originals.revocations as () => Promise<unknown>).bind(zone.zone.ca);
    ca.revocations = async () => {
      await sleep(300);
      return revocations();
    };
    return { live: () => live, restore: () => Object.assign(ca, originals) };
  }

  it('releases the CA subscriptions of a stream that closes mid-hello', async function () {
    const ca = instrumentCa();
    try {
      for (let i = 0; i < 5; i++) {
        const c = await connect();
        c.send(await helloFrame({ service: 'web', instanceId: `web-mid-${i}` }));
        await c.next('leaf');
        c.close();
        await c.closed();
      }
      await sleep(800);
      expect(ca.live()).to.equal(0);
    } finally {
      ca.restore();
    }
  });

  it('sends the leaf and the bundle before any config, even when the catalog changes meanwhile', async function () {
    const ca = instrumentCa();
    try {
      const c = await connect();
      c.send(await helloFrame({ service: 'web', instanceId: 'web-order' }));
      await c.next('config');
      expect(c.frames.map((f) => f.type).slice(0, 3)).to.deep.equal(['leaf', 'bundle', 'config']);
      expect(ca.live()).to.equal(2);
      c.close();
      await c.closed();
      await eventually(() => ca.live() === 0 || undefined, 'the subscriptions to be released');
    } finally {
      ca.restore();
    }
  });

  it("ignores a leave from a stream that is no longer the instance's", async function () {
    // Keep the replaced stream open (normally it is closed at once), so its leave arrives.
    const proto = ProxySession.prototype;
    const replace = Object.getOwnPropertyDescriptor(proto, 'replace') as PropertyDescriptor;
    proto.replace = () => undefined;
    try {
      const old = await connect();
      old.send(await helloFrame({ service: 'web', instanceId: 'web-leave', node: 'vm-l' }));
      await old.next('config');
      const current = await connect();
      current.send(await helloFrame({ service: 'web', instanceId: 'web-leave', node: 'vm-l' }));
      await current.next('config');
      old.send({ type: 'leave' });
      await sleep(300);
      const catalog = await readCatalog(zone.zone.store);
      expect(catalog.instance('vm-l', 'web-leave')).to.not.equal(undefined);
      expect(catalog.check('vm-l', 'proxy:web-leave:stream')?.status).to.equal('passing');
    } finally {
      Object.defineProperty(proto, 'replace', replace);
    }
  });

  it('deregisters on a leave that arrives right before the close, behind a slow frame', async function () {
    // A stopping proxy sends leave and closes at once; a frame still being handled (a
    // slow health write here) must not make the zone drop that leave.
    const registrar = zone.zone.proxyStream.registrar;
    const health = registrar.health.bind(registrar);
    registrar.health = async (...args: Parameters<typeof health>) => {
      await sleep(300);
      return health(...args);
    };
    try {
      const c = await connect();
      c.send(await helloFrame({ service: 'web', instanceId: 'web-quick-leave', node: 'vm-q' }));
      await c.next('config');
      c.send({ type: 'health', status: 'passing', output: 'ok' });
      c.send({ type: 'leave' });
      c.close();
      await eventually(
        async () =>
          (await readCatalog(zone.zone.store)).instance('vm-q', 'web-quick-leave') === undefined,
        'the instance to be deregistered',
        5000,
      );
    } finally {
      registrar.health = health;
    }
  });

  it('marks an instance disconnected when its stream closes while it is being registered', async function () {
    const registrar = zone.zone.proxyStream.registrar;
    const register = registrar.register.bind(registrar);
    let registering!: () => void;
    const started = new Promise<void>((resolve) => (registering = resolve));
    registrar.register = async (hello) => {
      registering();
      await sleep(300);
      return register(hello);
    };
    try {
      const c = await connect();
      c.send(await helloFrame({ service: 'web', instanceId: 'web-gone', node: 'vm-gone' }));
      await started;
      c.close();
      await c.closed();
      await eventually(
        async () =>
          (await checkStatus(zone.zone.store, 'vm-gone', 'proxy:web-gone:stream')) === 'critical' ||
          undefined,
        'the stream check to turn critical',
        5000,
      );
    } finally {
      registrar.register = register;
    }
  });

  it('forgets a disconnected proxy in /api/proxies once deregisterAfter has passed', async function () {
    const c = await connect();
    c.send(await helloFrame({ service: 'web', instanceId: 'web-prune' }));
    await c.next('config');
    c.close();
    await c.closed();
    await eventually(
      async () =>
        (await proxies(zone)).some((p) => p.instanceId === 'web-prune' && !p.connected) ||
        undefined,
      'the proxy to show as disconnected',
    );
    await eventually(
      async () => (await proxies(zone)).every((p) => p.instanceId !== 'web-prune') || undefined,
      'the proxy to be forgotten',
      10_000,
    );
  });

  it('writes an output-only health change at most every 5 s, and a status change at once', async function () {
    const c = await connect();
    c.send(await helloFrame({ service: 'web', instanceId: 'web-health', node: 'vm-h' }));
    await c.next('config');
    const app = async () =>
      (await readCatalog(zone.zone.store)).check('vm-h', 'proxy:web-health:app');
    c.send({ type: 'health', status: 'passing', output: 'a' });
    await eventually(async () => (await app())?.output === 'a' || undefined, 'output a');
    c.send({ type: 'health', status: 'passing', output: 'b' });
    await sleep(500);
    expect((await app())?.output).to.equal('a');
    // The last output is not lost: it is written when the interval is up.
    await eventually(async () => (await app())?.output === 'b' || undefined, 'output b', 10_000);
    c.send({ type: 'health', status: 'critical', output: 'c' });
    await eventually(
      async () => (await app())?.status === 'critical' || undefined,
      'critical',
      2000,
    );
  });

  it('does not push a snapshot the proxy would refuse, and says why in /api/proxies', async function () {
    // The hello is valid on its own, but its upstream's local port is its own inbound
    // port: the snapshot built for it would put two listeners on one port.
    const c = await connect();
    c.send(
      await helloFrame({
        service: 'web',
        instanceId: 'web-bad-config',
        port: 9301,
        upstreams: [{ service: 'backend', localPort: 9301 }],
      }),
    );
    await c.next('bundle');
    const row = await eventually(
      async () =>
        (await proxies(zone)).find((p) => p.instanceId === 'web-bad-config' && p.configError),
      'a configError',
    );
    expect(row.configError).to.match(/outbound\[0\]\.port 9301 is already used by inbound\.port/);
    expect(row.configVersion).to.equal(0);
    await sleep(300);
    expect(c.all('config')).to.deep.equal([]);
    c.close();
  });
});

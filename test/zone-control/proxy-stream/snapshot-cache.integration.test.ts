/**
 * Snapshots shared by proxy shape, through real streams: proxies of one shape, of another
 * port and of another service are connected to one zone at once; each gets its own
 * service, ports and authorization, those of one shape get the same snapshot, and a
 * catalog change reaches every one of them.
 */
import { expect } from 'chai';
import type { ProxyConfig } from '../../../core/index.ts';
import { eventually } from '../../helpers/async.ts';
import { StreamClient, helloFrame } from '../../helpers/proxy-stream-client.ts';
import type { HelloFields } from '../../helpers/proxy-stream-client.ts';
import { forEachBackend } from '../../helpers/zone.ts';
import type { TestZone } from '../../helpers/zone.ts';

async function putEntry(zone: TestZone, entry: unknown): Promise<void> {
  const res = await fetch(`${zone.url}/v1/config`, { method: 'PUT', body: JSON.stringify(entry) });
  expect(res.status, await res.clone().text()).to.equal(200);
}

function latest(client: StreamClient): ProxyConfig {
  const last = client.all('config').at(-1);
  if (!last) throw new Error('no config push yet');
  return last.snapshot as unknown as ProxyConfig;
}

interface Spec extends HelloFields {
  port: number;
  upstreams: { service: string; localPort: number }[];
}

const SPECS: Spec[] = [
  {
    service: 'web',
    instanceId: 'web-1',
    node: 'vm-1',
    port: 21000,
    upstreams: [{ service: 'api', localPort: 9001 }],
  },
  {
    service: 'web',
    instanceId: 'web-2',
    node: 'vm-2',
    address: '127.0.0.3',
    meta: { version: 'v2' },
    port: 21000,
    upstreams: [{ service: 'api', localPort: 9001 }],
  },
  {
    service: 'web',
    instanceId: 'web-3',
    node: 'vm-3',
    port: 21000,
    upstreams: [{ service: 'api', localPort: 9001 }],
  },
  // Each differs from web-1 in one shape field only.
  {
    service: 'web',
    instanceId: 'web-4',
    node: 'vm-4',
    port: 21004,
    upstreams: [{ service: 'api', localPort: 9001 }],
  },
  {
    service: 'web',
    instanceId: 'web-5',
    node: 'vm-6',
    port: 21000,
    upstreams: [{ service: 'api', localPort: 9005 }],
  },
  {
    service: 'admin',
    instanceId: 'admin-1',
    node: 'vm-5',
    port: 21000,
    upstreams: [{ service: 'api', localPort: 9001 }],
  },
];

/** Who may call each service (the intentions below). */
const CALLERS: Record<string, string> = { web: 'frontend', admin: 'ops' };

/** The fields that are this proxy's own, as its latest snapshot has them. */
function ownFields(client: StreamClient): unknown {
  const s = latest(client);
  return {
    service: s.service,
    port: s.inbound.port,
    upstreams: s.outbound.map((l) => ({ service: l.name, localPort: l.port })),
    callers: s.inbound.authorization.rules
      .filter((r) => r.action === 'allow')
      .map((r) => r.source.service),
  };
}

function expected(spec: Spec): unknown {
  return {
    service: spec.service,
    port: spec.port,
    upstreams: spec.upstreams,
    callers: [CALLERS[spec.service]],
  };
}

forEachBackend('config snapshots shared by proxy shape', (env) => {
  const clients: StreamClient[] = [];
  afterEach(function () {
    for (const c of clients.splice(0)) c.close();
  });

  async function connect(fields: HelloFields): Promise<StreamClient> {
    const client = await StreamClient.connect(env.zone);
    clients.push(client);
    client.send(await helloFrame(fields));
    await client.next('config');
    return client;
  }

  it('gives each proxy its own service, ports and authorization, and a change reaches them all', async function () {
    await putEntry(env.zone, {
      Kind: 'service-intentions',
      Name: 'web',
      Sources: [{ Name: 'frontend', Action: 'allow' }],
    });
    await putEntry(env.zone, {
      Kind: 'service-intentions',
      Name: 'admin',
      Sources: [{ Name: 'ops', Action: 'allow' }],
    });
    const proxies = await Promise.all(SPECS.map((s) => connect(s)));
    // Until the intentions have reached them all.
    await eventually(
      () =>
        proxies.every(
          (p, i) => JSON.stringify(ownFields(p)) === JSON.stringify(expected(SPECS[i] as Spec)),
        ) || undefined,
      'every proxy to have its intentions',
    );
    const [web1, web2, web3, web4, web5, admin] = proxies as [
      StreamClient,
      StreamClient,
      StreamClient,
      StreamClient,
      StreamClient,
      StreamClient,
    ];
    // One shape, one snapshot; another port or service, another snapshot.
    expect(latest(web2)).to.deep.equal(latest(web1));
    expect(latest(web3)).to.deep.equal(latest(web1));
    for (const other of [web4, web5, admin]) expect(latest(other)).to.not.deep.equal(latest(web1));

    const api = await connect({ service: 'api', instanceId: 'api-1', node: 'vm-api', port: 22001 });
    expect(latest(api).service).to.equal('api');
    const apiPorts = (c: StreamClient): number[] =>
      latest(c)
        .clusters.find((cl) => cl.name === 'api')
        ?.endpoints.map((e) => e.port) ?? [];
    await eventually(
      () => proxies.every((p) => apiPorts(p).includes(22001)) || undefined,
      'the new api instance in every proxy',
    );
    proxies.forEach((p, i) =>
      expect(ownFields(p), SPECS[i]?.instanceId).to.deep.equal(expected(SPECS[i] as Spec)),
    );
    // Each pushed version is the proxy's own count, whatever the others got.
    for (const p of proxies) {
      const versions = p.all('config').map((c) => c.version);
      expect(versions).to.deep.equal(versions.map((_, i) => i + 1));
    }
  });
});

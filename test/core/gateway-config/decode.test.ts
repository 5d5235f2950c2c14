import { expect } from 'chai';
import {
  InvalidArgumentError,
  decodeGatewayConfig,
  defaultTunnelSettings,
} from '../../../core/index.ts';

/** A config as JSON may hold it, loosely typed so tests can break any part. */
interface Draft {
  [key: string]: unknown;
  services: {
    [key: string]: unknown;
    endpoints: Record<string, unknown>[];
  }[];
  peers: { [key: string]: unknown; gateways: Record<string, unknown>[] }[];
}

function minimal(): Draft {
  return {
    zone: 'west',
    trustDomain: 'causeway.mesh',
    services: [
      {
        service: 'api',
        exportedTo: ['east'],
        endpoints: [{ address: '10.0.0.5', port: 15006, instanceId: 'api-1' }],
      },
    ],
    peers: [{ zone: 'east', gateways: [{ name: 'east-gw', address: '10.1.0.1', port: 15443 }] }],
  };
}

/** The field named by the InvalidArgumentError that decoding `value` throws. */
function refusedField(value: unknown): string | undefined {
  try {
    decodeGatewayConfig(value);
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidArgumentError);
    return (err as InvalidArgumentError).field;
  }
  expect.fail('expected the config to be refused');
}

/** minimal() with `edit` applied to a copy. */
function edited(edit: (c: Draft) => void): Draft {
  const c = minimal();
  edit(c);
  return c;
}

describe('decodeGatewayConfig', () => {
  it('fills in defaults: namespace, health, exportedTo, peers, tunnels', () => {
    const config = decodeGatewayConfig({
      zone: 'west',
      trustDomain: 'causeway.mesh',
      services: [{ service: 'api', endpoints: [{ address: 'a', port: 1, instanceId: 'x' }] }],
    });
    expect(config).to.deep.equal({
      zone: 'west',
      trustDomain: 'causeway.mesh',
      services: [
        {
          service: 'api',
          namespace: 'default',
          exportedTo: [],
          endpoints: [{ address: 'a', port: 1, health: 'passing', instanceId: 'x' }],
        },
      ],
      peers: [],
      tunnels: defaultTunnelSettings(),
    });
    expect(defaultTunnelSettings()).to.deep.equal({
      maxSessionsPerPeer: 4,
      maxStreamsPerSession: 100,
      idleTimeoutMs: 60_000,
      connectTimeoutMs: 5_000,
    });
  });

  it('keeps a version and tunnel settings given', () => {
    const config = decodeGatewayConfig({
      ...minimal(),
      version: '7',
      tunnels: { maxStreamsPerSession: 5, idleTimeoutMs: 1000 },
    });
    expect(config.version).to.equal('7');
    expect(config.tunnels).to.deep.equal({
      ...defaultTunnelSettings(),
      maxStreamsPerSession: 5,
      idleTimeoutMs: 1000,
    });
  });

  it('names the field at fault', () => {
    const cases: [string, (c: Draft) => void][] = [
      ['zone', (c) => (c.zone = 'West')],
      ['trustDomain', (c) => delete c.trustDomain],
      ['trustDomain', (c) => (c.trustDomain = 'Bad Domain')],
      ['services', (c) => ((c as Record<string, unknown>).services = {})],
      ['services[0].service', (c) => (c.services[0]!.service = '')],
      ['services[0].namespace', (c) => (c.services[0]!.namespace = 'a.b')],
      ['services[0].exportedTo[0]', (c) => (c.services[0]!.exportedTo = ['East'])],
      ['services[0].exportedTo', (c) => (c.services[0]!.exportedTo = ['*', 'east'])],
      ['services[0].exportedTo', (c) => (c.services[0]!.exportedTo = ['east', 'east'])],
      ['services[0].endpoints[0].port', (c) => (c.services[0]!.endpoints[0]!.port = 0)],
      ['services[0].endpoints[0].address', (c) => delete c.services[0]!.endpoints[0]!.address],
      ['services[0].endpoints[0].health', (c) => (c.services[0]!.endpoints[0]!.health = 'ok')],
      [
        'services[0].endpoints[0].instanceId',
        (c) => delete c.services[0]!.endpoints[0]!.instanceId,
      ],
      ['services[1]', (c) => c.services.push(structuredClone(c.services[0]!))],
      ['peers[0].zone', (c) => (c.peers[0]!.zone = 'west')],
      ['peers[1].zone', (c) => c.peers.push(structuredClone(c.peers[0]!))],
      ['peers[0].gateways', (c) => (c.peers[0]!.gateways = [])],
      ['peers[0].gateways[0].name', (c) => (c.peers[0]!.gateways[0]!.name = 'East_GW')],
      ['peers[0].gateways[0].port', (c) => (c.peers[0]!.gateways[0]!.port = 70000)],
      [
        'peers[0].gateways[1].name',
        (c) => c.peers[0]!.gateways.push(structuredClone(c.peers[0]!.gateways[0]!)),
      ],
      ['tunnels.maxSessionsPerPeer', (c) => (c.tunnels = { maxSessionsPerPeer: 0 })],
      ['tunnels.maxStreamsPerSession', (c) => (c.tunnels = { maxStreamsPerSession: 1.5 })],
      ['tunnels.idleTimeoutMs', (c) => (c.tunnels = { idleTimeoutMs: -1 })],
      ['tunnels.connectTimeoutMs', (c) => (c.tunnels = { connectTimeoutMs: '5s' })],
      ['tunnels', (c) => (c.tunnels = [])],
      ['version', (c) => (c.version = 7)],
    ];
    for (const [field, edit] of cases) {
      expect(refusedField(edited(edit)), field).to.equal(field);
    }
    expect(refusedField(null)).to.equal('config');
  });

  it('says what is wrong in the message', () => {
    expect(() =>
      decodeGatewayConfig(edited((c) => (c.services[0]!.exportedTo = ['*', 'east']))),
    ).to.throw(/services\[0\]\.exportedTo: \* \(every zone\) stands alone/);
    expect(() => decodeGatewayConfig(edited((c) => (c.peers[0]!.zone = 'west')))).to.throw(
      /peers\[0\]\.zone: west is the gateway's own zone/,
    );
    expect(() =>
      decodeGatewayConfig(edited((c) => c.services.push(structuredClone(c.services[0]!)))),
    ).to.throw(/default\/api is listed twice/);
  });
});

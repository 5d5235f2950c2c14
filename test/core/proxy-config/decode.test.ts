import { expect } from 'chai';
import {
  InvalidArgumentError,
  decodeProxyConfig,
  defaultLimits,
  defaultOutlier,
  defaultRetryPolicy,
} from '../../../core/index.ts';

/** The smallest snapshot: an HTTP service with one upstream. */
function minimal(): Record<string, unknown> {
  return {
    service: 'web',
    zone: 'east',
    trustDomain: 'causeway.mesh',
    inbound: { port: 15006 },
    outbound: [
      {
        name: 'backend',
        port: 9001,
        protocol: 'http',
        routes: [{ destinations: [{ cluster: 'backend' }] }],
      },
    ],
    clusters: [
      {
        name: 'backend',
        service: 'backend',
        endpoints: [{ address: '10.0.0.5', port: 15006, zone: 'east', instanceId: 'backend-1' }],
      },
    ],
  };
}

function refusedField(value: unknown): string | undefined {
  try {
    decodeProxyConfig(value);
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidArgumentError);
    return (err as InvalidArgumentError).field;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be refused`);
}

describe('proxy config snapshots', function () {
  it('fills in Envoy defaults for everything a snapshot leaves out', function () {
    const config = decodeProxyConfig(minimal());
    expect(config.namespace).to.equal('default');
    expect(config.inbound).to.deep.equal({
      port: 15006,
      protocol: 'tcp',
      authorization: { defaultAction: 'allow', rules: [] },
    });
    const route = config.outbound[0]?.routes[0];
    expect(route).to.deep.equal({
      match: {},
      destinations: [{ cluster: 'backend', weight: 1 }],
      timeoutMs: 15_000,
      retry: defaultRetryPolicy(),
    });
    const cluster = config.clusters[0];
    expect(cluster?.lb).to.deep.equal({ policy: 'round_robin' });
    expect(cluster?.connectTimeoutMs).to.equal(5_000);
    expect(cluster?.limits).to.deep.equal(defaultLimits());
    expect(cluster?.outlier).to.deep.equal(defaultOutlier());
    expect(cluster?.panicThresholdPercent).to.equal(50);
    expect(cluster?.endpoints[0]).to.deep.equal({
      address: '10.0.0.5',
      port: 15006,
      zone: 'east',
      priority: 0,
      health: 'passing',
      weight: 1,
      instanceId: 'backend-1',
    });
  });

  it('keeps what a snapshot says: policies, matches, faults, authorization', function () {
    const value = minimal();
    value.inbound = {
      port: 15006,
      protocol: 'http',
      authorization: {
        defaultAction: 'deny',
        rules: [
          {
            action: 'allow',
            source: { service: 'web', namespace: '*' },
            http: [
              { pathPrefix: '/api', methods: ['GET'], headers: [{ name: 'X-Env', exact: '' }] },
            ],
          },
        ],
      },
    };
    (value.clusters as Record<string, unknown>[])[0]!.lb = {
      policy: 'ring_hash',
      hashHeader: 'X-User',
    };
    (value.outbound as Record<string, unknown>[])[0]!.routes = [
      {
        match: { headers: [{ name: 'x-canary', present: true }] },
        destinations: [{ cluster: 'backend', weight: 3 }],
        retry: { numRetries: 0, retryOn: ['gateway-error'], retryOnStatusCodes: [429] },
        fault: {
          abort: { percent: 12.5, httpStatus: 503 },
          delay: { percent: 100, durationMs: 5 },
        },
      },
    ];
    const config = decodeProxyConfig(value);
    expect(config.inbound.authorization.rules[0]).to.deep.equal({
      action: 'allow',
      source: { service: 'web' },
      http: [{ pathPrefix: '/api', methods: ['GET'], headers: [{ name: 'x-env', exact: '' }] }],
    });
    expect(config.clusters[0]?.lb).to.deep.equal({ policy: 'ring_hash', hashHeader: 'x-user' });
    const route = config.outbound[0]?.routes[0];
    expect(route?.retry.numRetries).to.equal(0);
    expect(route?.retry.retryOnStatusCodes).to.deep.equal([429]);
    expect(route?.fault).to.deep.equal({
      delay: { percent: 100, durationMs: 5 },
      abort: { percent: 12.5, httpStatus: 503 },
    });
  });

  it('refuses broken snapshots, naming the field', function () {
    const cases: [string, (v: Record<string, unknown>) => void][] = [
      ['config', () => undefined],
      ['service', (v) => (v.service = 'Web')],
      ['inbound', (v) => delete v.inbound],
      ['inbound.port', (v) => (v.inbound = { port: 70000 })],
      ['clusters[0].name', (v) => ((v.clusters as object[])[0] = { name: 'Bad Name' })],
      [
        'clusters[1].name',
        (v) => (v.clusters as object[]).push({ name: 'backend', service: 'backend' }),
      ],
      [
        'outbound[0].routes[0].destinations[0].cluster',
        (v) =>
          ((v.outbound as Record<string, unknown>[])[0]!.routes = [
            { destinations: [{ cluster: 'nowhere' }] },
          ]),
      ],
      [
        'outbound[0].routes[0].destinations',
        (v) =>
          ((v.outbound as Record<string, unknown>[])[0]!.routes = [
            { destinations: [{ cluster: 'backend', weight: 0 }] },
          ]),
      ],
      ['outbound[0].port', (v) => ((v.outbound as Record<string, unknown>[])[0]!.port = 15006)],
      [
        'outbound[0].routes',
        (v) => {
          const l = (v.outbound as Record<string, unknown>[])[0]!;
          l.protocol = 'tcp';
          l.routes = [{ match: { pathPrefix: '/' }, destinations: [{ cluster: 'backend' }] }];
        },
      ],
      [
        'clusters[0].lb.hashHeader',
        (v) => ((v.clusters as Record<string, unknown>[])[0]!.lb = { policy: 'ring_hash' }),
      ],
      [
        'clusters[0].endpoints[0].health',
        (v) =>
          ((v.clusters as Record<string, unknown>[])[0]!.endpoints = [
            { address: 'a', port: 1, zone: 'east', instanceId: 'i', health: 'sick' },
          ]),
      ],
      [
        'outbound[0].routes[0].retry.maxIntervalMs',
        (v) =>
          ((v.outbound as Record<string, unknown>[])[0]!.routes = [
            {
              destinations: [{ cluster: 'backend' }],
              retry: { baseIntervalMs: 100, maxIntervalMs: 50 },
            },
          ]),
      ],
      [
        'outbound[0].routes[0].retry.retryOn[0]',
        (v) =>
          ((v.outbound as Record<string, unknown>[])[0]!.routes = [
            { destinations: [{ cluster: 'backend' }], retry: { retryOn: ['always'] } },
          ]),
      ],
      [
        'inbound.authorization.rules[0].http[0].pathExact',
        (v) =>
          (v.inbound = {
            port: 1,
            authorization: {
              rules: [{ action: 'allow', http: [{ pathExact: '/a', pathPrefix: '/b' }] }],
            },
          }),
      ],
      [
        'inbound.authorization.rules[0].http[0].headers[0].name',
        (v) =>
          (v.inbound = {
            port: 1,
            authorization: {
              rules: [{ action: 'deny', http: [{ headers: [{ name: 'x-a' }] }] }],
            },
          }),
      ],
      [
        'inbound.authorization.rules[0].source.zone',
        (v) =>
          (v.inbound = {
            port: 1,
            authorization: { rules: [{ action: 'deny', source: { zone: 'East Zone' } }] },
          }),
      ],
      [
        'outbound[0].routes[0].fault.abort.percent',
        (v) =>
          ((v.outbound as Record<string, unknown>[])[0]!.routes = [
            {
              destinations: [{ cluster: 'backend' }],
              fault: { abort: { percent: 101, httpStatus: 503 } },
            },
          ]),
      ],
    ];
    for (const [field, breakIt] of cases) {
      const value = minimal();
      breakIt(value);
      expect(refusedField(field === 'config' ? 'not an object' : value), field).to.equal(field);
    }
  });
});

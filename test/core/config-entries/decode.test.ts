import { expect } from 'chai';
import {
  InvalidArgumentError,
  decodeConfigEntry,
  intentionPrecedence,
} from '../../../core/index.ts';

function refusal(body: unknown): InvalidArgumentError {
  try {
    decodeConfigEntry(body);
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidArgumentError);
    expect((err as Error).message).to.match(
      /^(Request decoding failed: |invalid config entry kind)/,
    );
    return err as InvalidArgumentError;
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
}

describe('config entry decoding', function () {
  it('normalises field spelling and fills the namespace', function () {
    expect(
      decodeConfigEntry({
        kind: 'service-defaults',
        name: 'web',
        protocol: 'http',
        upstream_config: { defaults: { connect_timeout_ms: 250, limits: { max_connections: 10 } } },
      }),
    ).to.deep.equal({
      Kind: 'service-defaults',
      Name: 'web',
      Namespace: 'default',
      Protocol: 'http',
      UpstreamConfig: { Defaults: { ConnectTimeoutMs: 250, Limits: { MaxConnections: 10 } } },
    });
  });

  it('accepts a resolver with subsets, a default subset and a ring hash', function () {
    const entry = decodeConfigEntry({
      Kind: 'service-resolver',
      Name: 'api',
      DefaultSubset: 'v1',
      Subsets: {
        v1: { Filter: 'Service.Meta.version == v1' },
        v2: {
          Filter: 'Service.Meta.version == "v2" and Service.Tags contains canary',
          OnlyPassing: true,
        },
      },
      ConnectTimeout: '2s',
      LoadBalancer: {
        Policy: 'ring_hash',
        HashPolicies: [{ Field: 'header', FieldValue: 'x-user' }],
      },
    });
    expect(entry).to.deep.include({ DefaultSubset: 'v1', ConnectTimeout: '2s' });
  });

  it('gives intention sources Consul precedence: exact names above wildcards, exact destinations above *', function () {
    expect(intentionPrecedence({ Name: 'web', Namespace: 'default' }, 'api')).to.equal(9);
    expect(intentionPrecedence({ Name: '*', Namespace: 'default' }, 'api')).to.equal(8);
    expect(intentionPrecedence({ Name: '*', Namespace: '*' }, 'api')).to.equal(7);
    expect(intentionPrecedence({ Name: 'web', Namespace: 'default' }, '*')).to.equal(6);
    expect(intentionPrecedence({ Name: '*', Namespace: '*' }, '*')).to.equal(4);
  });

  const cases: [string, unknown, string][] = [
    ['an empty body', undefined, 'body'],
    ['a body that is not an object', [1], 'body'],
    ['a missing Kind', { Name: 'web' }, 'Kind'],
    ['an unknown Kind', { Kind: 'mesh', Name: 'web' }, 'Kind'],
    ['a missing Name', { Kind: 'service-defaults' }, 'Name'],
    ['a Name that is not a DNS label', { Kind: 'service-defaults', Name: 'Web_1' }, 'Name'],
    ['a wildcard Name outside intentions', { Kind: 'service-defaults', Name: '*' }, 'Name'],
    ['an unknown field', { Kind: 'service-defaults', Name: 'web', Protocoll: 'http' }, 'Protocoll'],
    ['an unknown protocol', { Kind: 'service-defaults', Name: 'web', Protocol: 'udp' }, 'Protocol'],
    [
      'a negative connect timeout',
      {
        Kind: 'service-defaults',
        Name: 'web',
        UpstreamConfig: { Defaults: { ConnectTimeoutMs: -1 } },
      },
      'UpstreamConfig.Defaults.ConnectTimeoutMs',
    ],
    [
      'a bad ejection time',
      {
        Kind: 'service-defaults',
        Name: 'web',
        UpstreamConfig: { Defaults: { PassiveHealthCheck: { BaseEjectionTime: 'soon' } } },
      },
      'UpstreamConfig.Defaults.PassiveHealthCheck.BaseEjectionTime',
    ],
    [
      'a default subset that is not defined',
      { Kind: 'service-resolver', Name: 'api', DefaultSubset: 'v3', Subsets: { v1: {} } },
      'DefaultSubset',
    ],
    [
      'an unsupported filter',
      { Kind: 'service-resolver', Name: 'api', Subsets: { v1: { Filter: 'Node.Meta.x == y' } } },
      'Subsets.v1.Filter',
    ],
    [
      'an unknown load balancer policy',
      { Kind: 'service-resolver', Name: 'api', LoadBalancer: { Policy: 'random' } },
      'LoadBalancer.Policy',
    ],
    [
      'hash policies without ring_hash',
      {
        Kind: 'service-resolver',
        Name: 'api',
        LoadBalancer: {
          Policy: 'round_robin',
          HashPolicies: [{ Field: 'header', FieldValue: 'x' }],
        },
      },
      'LoadBalancer.HashPolicies',
    ],
    [
      'ring_hash without a header',
      { Kind: 'service-resolver', Name: 'api', LoadBalancer: { Policy: 'ring_hash' } },
      'LoadBalancer.HashPolicies',
    ],
    [
      'a cookie hash',
      {
        Kind: 'service-resolver',
        Name: 'api',
        LoadBalancer: {
          Policy: 'ring_hash',
          HashPolicies: [{ Field: 'cookie', FieldValue: 'id' }],
        },
      },
      'LoadBalancer.HashPolicies[0].Field',
    ],
    [
      'a choice count of 1',
      {
        Kind: 'service-resolver',
        Name: 'api',
        LoadBalancer: { Policy: 'least_request', LeastRequestConfig: { ChoiceCount: 1 } },
      },
      'LoadBalancer.LeastRequestConfig.ChoiceCount',
    ],
    ['a splitter without splits', { Kind: 'service-splitter', Name: 'api', Splits: [] }, 'Splits'],
    [
      'weights that do not sum to 100',
      {
        Kind: 'service-splitter',
        Name: 'api',
        Splits: [
          { Weight: 90, ServiceSubset: 'v1' },
          { Weight: 5, ServiceSubset: 'v2' },
        ],
      },
      'Splits',
    ],
    [
      'a weight over 100',
      { Kind: 'service-splitter', Name: 'api', Splits: [{ Weight: 101 }] },
      'Splits[0].Weight',
    ],
    [
      'two splits to the same subset',
      {
        Kind: 'service-splitter',
        Name: 'api',
        Splits: [
          { Weight: 50, ServiceSubset: 'v1' },
          { Weight: 50, ServiceSubset: 'v1' },
        ],
      },
      'Splits[1]',
    ],
    [
      'a path without a leading slash',
      {
        Kind: 'service-router',
        Name: 'api',
        Routes: [{ Match: { HTTP: { PathPrefix: 'admin' } } }],
      },
      'Routes[0].Match.HTTP.PathPrefix',
    ],
    [
      'PathExact with PathPrefix',
      {
        Kind: 'service-router',
        Name: 'api',
        Routes: [{ Match: { HTTP: { PathExact: '/a', PathPrefix: '/b' } } }],
      },
      'Routes[0].Match.HTTP.PathExact',
    ],
    [
      'a header match with two conditions',
      {
        Kind: 'service-router',
        Name: 'api',
        Routes: [{ Match: { HTTP: { Header: [{ Name: 'x-v', Exact: 'a', Prefix: 'b' }] } } }],
      },
      'Routes[0].Match.HTTP.Header[0]',
    ],
    [
      'a lower-case method',
      { Kind: 'service-router', Name: 'api', Routes: [{ Match: { HTTP: { Methods: ['get'] } } }] },
      'Routes[0].Match.HTTP.Methods[0]',
    ],
    [
      'too many retries',
      { Kind: 'service-router', Name: 'api', Routes: [{ Destination: { NumRetries: 50 } }] },
      'Routes[0].Destination.NumRetries',
    ],
    [
      'a fault abort without a status',
      {
        Kind: 'service-router',
        Name: 'api',
        Routes: [{ Destination: { Fault: { Abort: { Percent: 10 } } } }],
      },
      'Routes[0].Destination.Fault.Abort.HttpStatus',
    ],
    [
      'a fault delay over 100%',
      {
        Kind: 'service-router',
        Name: 'api',
        Routes: [{ Destination: { Fault: { Delay: { Percent: 120, Duration: '1s' } } } }],
      },
      'Routes[0].Destination.Fault.Delay.Percent',
    ],
    [
      'a source without Action or Permissions',
      { Kind: 'service-intentions', Name: 'api', Sources: [{ Name: 'web' }] },
      'Sources[0].Action',
    ],
    [
      'a source with both Action and Permissions',
      {
        Kind: 'service-intentions',
        Name: 'api',
        Sources: [
          {
            Name: 'web',
            Action: 'allow',
            Permissions: [{ Action: 'allow', HTTP: { PathPrefix: '/' } }],
          },
        ],
      },
      'Sources[0].Action',
    ],
    [
      'a bad action',
      { Kind: 'service-intentions', Name: 'api', Sources: [{ Name: 'web', Action: 'permit' }] },
      'Sources[0].Action',
    ],
    [
      'a permission without HTTP',
      {
        Kind: 'service-intentions',
        Name: 'api',
        Sources: [{ Name: 'web', Permissions: [{ Action: 'allow' }] }],
      },
      'Sources[0].Permissions[0].HTTP',
    ],
    [
      'a repeated source',
      {
        Kind: 'service-intentions',
        Name: 'api',
        Sources: [
          { Name: 'web', Action: 'allow' },
          { Name: 'web', Action: 'deny' },
        ],
      },
      'Sources[1]',
    ],
    [
      'a bad zone',
      {
        Kind: 'service-intentions',
        Name: 'api',
        Sources: [{ Name: 'web', Action: 'allow', Zone: 'East' }],
      },
      'Sources[0].Zone',
    ],
  ];
  for (const [what, body, field] of cases) {
    it(`refuses ${what}, naming ${field}`, function () {
      expect(refusal(body).field).to.equal(field);
    });
  }

  // Each of these was accepted before and built a snapshot that decodeProxyConfig (and so
  // every proxy using it) refuses.
  const unloadable: [string, unknown, string][] = [
    [
      'a resolver ConnectTimeout over 1h',
      { Kind: 'service-resolver', Name: 'api', ConnectTimeout: '2h' },
      'ConnectTimeout',
    ],
    [
      'a RequestTimeout over 1h',
      {
        Kind: 'service-router',
        Name: 'api',
        Routes: [{ Match: { HTTP: { PathPrefix: '/a' } }, Destination: { RequestTimeout: '90m' } }],
      },
      'Routes[0].Destination.RequestTimeout',
    ],
    [
      'a fault delay over 1h',
      {
        Kind: 'service-router',
        Name: 'api',
        Routes: [
          {
            Match: { HTTP: { PathPrefix: '/a' } },
            Destination: { Fault: { Delay: { Percent: 1, Duration: '61m' } } },
          },
        ],
      },
      'Routes[0].Destination.Fault.Delay.Duration',
    ],
    [
      'MaxFailures over 1000',
      {
        Kind: 'service-defaults',
        Name: 'web',
        UpstreamConfig: { Defaults: { PassiveHealthCheck: { MaxFailures: 5000 } } },
      },
      'UpstreamConfig.Defaults.PassiveHealthCheck.MaxFailures',
    ],
    [
      'a zero BaseEjectionTime',
      {
        Kind: 'service-defaults',
        Name: 'web',
        UpstreamConfig: { Defaults: { PassiveHealthCheck: { BaseEjectionTime: '0s' } } },
      },
      'UpstreamConfig.Defaults.PassiveHealthCheck.BaseEjectionTime',
    ],
    [
      'MaxConnections over 1e6',
      {
        Kind: 'service-defaults',
        Name: 'web',
        UpstreamConfig: { Defaults: { Limits: { MaxConnections: 5_000_000 } } },
      },
      'UpstreamConfig.Defaults.Limits.MaxConnections',
    ],
  ];
  it('refuses a field given twice in two spellings, naming the second', function () {
    expect(refusal({ kind: 'service-defaults', Kind: 'service-router', Name: 'x' }).field).to.equal(
      'Kind',
    );
  });

  for (const [what, body, field] of unloadable) {
    it(`refuses ${what} (a snapshot the proxy could not load), naming ${field}`, function () {
      expect(refusal(body).field).to.equal(field);
    });
  }

  it('lower-cases Protocol as Consul does, and still refuses an unknown one', function () {
    expect(
      decodeConfigEntry({ Kind: 'service-defaults', Name: 'web', Protocol: 'HTTP' }),
    ).to.include({ Protocol: 'http' });
    expect(refusal({ Kind: 'service-defaults', Name: 'web', Protocol: 'SMTP' }).field).to.equal(
      'Protocol',
    );
  });

  it('keeps bounded durations at their limits and a zero ConnectTimeout as the default', function () {
    expect(
      decodeConfigEntry({ Kind: 'service-resolver', Name: 'api', ConnectTimeout: '1h' }),
    ).to.include({ ConnectTimeout: '1h' });
    expect(
      decodeConfigEntry({ Kind: 'service-resolver', Name: 'api', ConnectTimeout: '0s' }),
    ).to.not.have.property('ConnectTimeout');
  });

  it('accepts intentions with a wildcard destination, L7 permissions and a zone', function () {
    const entry = decodeConfigEntry({
      Kind: 'service-intentions',
      Name: '*',
      Sources: [
        {
          Name: 'web',
          Zone: 'east',
          Permissions: [{ Action: 'allow', HTTP: { PathPrefix: '/api', Methods: ['GET'] } }],
        },
        { Name: '*', Action: 'deny' },
      ],
    });
    expect(entry).to.deep.include({ Name: '*' });
    expect(
      (entry as { Sources: { Precedence?: number }[] }).Sources.map((s) => s.Precedence),
    ).to.deep.equal([6, 5]);
  });
});

import { expect } from 'chai';
import { ConfigError } from '../../core/index.ts';
import { parseProxyFlags } from '../../proxy/src/flags.ts';
import { parseHealthCheck, parseUpstream, resolveProxyOptions } from '../../proxy/src/options.ts';
import type { ResolvedStreamOptions } from '../../proxy/src/options.ts';
import { configError } from '../helpers/config-error.ts';

const base = [
  '--zone-control',
  'wss://127.0.0.1:7701',
  '--ca-file',
  'roots.pem',
  '--service',
  'web',
  '--port',
  '8080',
];

function stream(args: string[], env: Record<string, string> = {}): ResolvedStreamOptions {
  const resolved = resolveProxyOptions(parseProxyFlags(args, env));
  if (resolved.mode !== 'stream') throw new Error('expected stream mode');
  return resolved;
}

describe('proxy options and flags', function () {
  it('fills in the defaults of a stream-mode proxy', function () {
    const o = stream([...base, '--node', 'vm-1']);
    expect(o).to.deep.include({
      mode: 'stream',
      service: 'web',
      namespace: 'default',
      app: { host: '127.0.0.1', port: 8080 },
      appProtocol: 'tcp',
      inbound: { host: '0.0.0.0', port: 15006 },
      adminAddr: { host: '127.0.0.1', port: 15000 },
      healthCheck: { kind: 'tcp' },
      healthIntervalMs: 10_000,
      workers: 1,
      accessLog: true,
      node: 'vm-1',
      upstreams: [],
    });
    expect(o.instanceId).to.match(/^web-vm-1-[0-9a-f]{6}$/);
  });

  it('parses repeatable upstreams, meta and tags', function () {
    const o = stream([
      ...base,
      '--upstream',
      'backend:9001',
      '--upstream',
      'payments/ledger:9002',
      '--meta',
      'version=v2',
      '--meta',
      'team=a=b',
      '--tag',
      'canary',
      '--app-protocol',
      'http',
    ]);
    expect(o.upstreams).to.deep.equal([
      { service: 'backend', namespace: 'default', localPort: 9001 },
      { service: 'ledger', namespace: 'payments', localPort: 9002 },
    ]);
    expect(o.meta).to.deep.equal({ version: 'v2', team: 'a=b' });
    expect(o.tags).to.deep.equal(['canary']);
    expect(o.appProtocol).to.equal('http');
  });

  it('lets flags win over CAUSEWAY_* variables', function () {
    const o = stream([...base, '--namespace', 'shop'], {
      CAUSEWAY_NAMESPACE: 'ignored',
      CAUSEWAY_INBOUND_PORT: '0',
      CAUSEWAY_TOKEN: 'from-env',
      CAUSEWAY_ACCESS_LOG: 'false',
    });
    expect(o.namespace).to.equal('shop');
    expect(o.inbound.port).to.equal(0);
    expect(o.token).to.equal('from-env');
    expect(o.accessLog).to.equal(false);
    expect(stream([...base, '--no-access-log']).accessLog).to.equal(false);
  });

  it('refuses what it cannot use, naming the option', function () {
    expect(configError(() => resolveProxyOptions({})).field).to.equal('zoneControl');
    expect(
      configError(() =>
        stream(['--zone-control', 'ws://x:1', '--ca-file', 'f', '--service', 'web', '--port', '1']),
      ).message,
    ).to.match(/wss:\/\//);
    expect(configError(() => stream(base.slice(0, 6))).field).to.equal('port');
    expect(configError(() => stream([...base, '--upstream', 'backend'])).field).to.equal(
      'upstream[0]',
    );
    expect(
      configError(() => stream([...base, '--upstream', 'a:9001', '--upstream', 'b:9001'])).message,
    ).to.match(/used twice/);
    expect(configError(() => stream([...base, '--service', 'Web'])).field).to.equal('service');
    expect(configError(() => stream([...base, '--workers', '0'])).field).to.equal('workers');
    expect(configError(() => stream([...base, '--meta', 'novalue'])).field).to.equal('meta[0]');
    expect(configError(() => stream([...base, '--app-protocol', 'grpc'])).field).to.equal(
      'appProtocol',
    );
    expect(configError(() => parseProxyFlags(['--bogus'], {})).message).to.match(
      /causeway run proxy: unknown option/,
    );
    expect(
      configError(() => resolveProxyOptions({ bootstrap: 'p.yaml', zoneControl: 'wss://x:1' }))
        .field,
    ).to.equal('zoneControl');
  });

  it('refuses meta, tags and addresses the zone would refuse in the hello', function () {
    const dotted = configError(() => stream([...base, '--meta', 'app.version=v2']));
    expect(dotted.field).to.equal('meta.app.version');
    expect(dotted.message).to.match(/letters, digits/);
    expect(configError(() => stream([...base, '--meta', 'consul-x=1'])).message).to.match(
      /reserved/,
    );
    expect(configError(() => stream([...base, '--tag', 'x'.repeat(257)])).field).to.equal('tag[0]');
    expect(configError(() => stream([...base, '--address', '0.0.0.0'])).field).to.equal('address');
  });

  it('takes the same service local and pinned to zones, refusing one service and zone twice', function () {
    const o = stream([
      ...base,
      '--upstream',
      'api:9001',
      '--upstream',
      'api@west:9002',
      '--upstream',
      'payments/api@east:9003',
    ]);
    expect(o.upstreams).to.deep.equal([
      { service: 'api', namespace: 'default', localPort: 9001 },
      { service: 'api', namespace: 'default', localPort: 9002, zone: 'west' },
      { service: 'api', namespace: 'payments', localPort: 9003, zone: 'east' },
    ]);
    const twice = ['--upstream', 'api@west:9002', '--upstream', 'payments/api@west:9003'];
    expect(configError(() => stream([...base, ...twice])).field).to.equal('upstream[1]');
    expect(
      configError(() => stream([...base, '--upstream', `${'s'.repeat(40)}@${'z'.repeat(22)}:9002`]))
        .field,
    ).to.equal('upstream[0].zone');
  });

  it('takes a bootstrap file alone, admin address optional', function () {
    expect(
      resolveProxyOptions(parseProxyFlags(['--bootstrap', 'p.yaml', '--workers', '2'], {})),
    ).to.deep.include({
      mode: 'bootstrap',
      bootstrap: 'p.yaml',
      workers: 2,
      adminAddr: undefined,
    });
  });

  it('parses upstream and health check specs', function () {
    expect(parseUpstream('ns/svc:1', 'u')).to.deep.equal({
      service: 'svc',
      namespace: 'ns',
      localPort: 1,
    });
    expect(() => parseUpstream('svc:70000', 'u')).to.throw(ConfigError, /u.port/);
    expect(parseUpstream('api@west:9002', 'u')).to.deep.equal({
      service: 'api',
      namespace: 'default',
      localPort: 9002,
      zone: 'west',
    });
    expect(parseUpstream('ns/api@west:9002', 'u')).to.deep.include({
      namespace: 'ns',
      zone: 'west',
    });
    expect(configError(() => parseUpstream('api@West:9002', 'u')).field).to.equal('u.zone');
    expect(configError(() => parseUpstream('api@:9002', 'u')).field).to.equal('u');
    expect(configError(() => parseUpstream('api@west@east:9002', 'u')).field).to.equal('u');
    expect(parseHealthCheck('none')).to.deep.equal({ kind: 'none' });
    expect(parseHealthCheck('http://127.0.0.1:8080/health')).to.deep.equal({
      kind: 'http',
      url: 'http://127.0.0.1:8080/health',
    });
    expect(() => parseHealthCheck('ftp://x')).to.throw(ConfigError);
    expect(() => parseHealthCheck('sometimes')).to.throw(ConfigError, /none, tcp or an http/);
  });
});

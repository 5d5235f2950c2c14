import { expect } from 'chai';
import { InvalidArgumentError, NotFoundError } from '../../../core/index.ts';
import {
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  decodeProxyMessage,
  decodeZoneMessage,
  errorFrame,
  upstreamListenerName,
} from '../../../core/src/proxy-stream/messages.ts';

const hello = {
  type: 'hello',
  protocol: PROTOCOL_VERSION,
  service: 'web',
  instanceId: 'web-1',
  address: '127.0.0.1',
  port: 8080,
  upstreams: [{ service: 'backend', localPort: 9001 }],
  csr: '-----BEGIN CERTIFICATE REQUEST-----…',
};

/** The field an InvalidArgumentError names for `frame`. */
function refusedField(decode: (f: string) => unknown, frame: unknown): string | undefined {
  try {
    decode(typeof frame === 'string' ? frame : JSON.stringify(frame));
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidArgumentError);
    return (err as InvalidArgumentError).field;
  }
  throw new Error(`expected ${JSON.stringify(frame)} to be refused`);
}

describe('proxy stream messages', function () {
  it('decodes a hello with defaults filled in', function () {
    expect(decodeProxyMessage(JSON.stringify(hello))).to.deep.equal({
      ...hello,
      namespace: 'default',
      upstreams: [{ service: 'backend', namespace: 'default', localPort: 9001 }],
      appProtocol: 'tcp',
      node: 'web-1',
      meta: {},
      tags: [],
    });
  });

  it('decodes health reports and leave, refusing unknown statuses', function () {
    expect(
      decodeProxyMessage('{"type":"health","status":"critical","output":"refused"}'),
    ).to.deep.equal({ type: 'health', status: 'critical', output: 'refused' });
    expect(decodeProxyMessage('{"type":"leave"}')).to.deep.equal({ type: 'leave' });
    expect(refusedField(decodeProxyMessage, { type: 'health', status: 'bad' })).to.equal('status');
    expect(
      refusedField(decodeProxyMessage, { type: 'health', status: 'passing', output: 7 }),
    ).to.equal('output');
    expect(refusedField(decodeProxyMessage, { ...hello, appProtocol: 'udp' })).to.equal(
      'appProtocol',
    );
    expect(refusedField(decodeProxyMessage, { ...hello, meta: { version: 2 } })).to.equal(
      'meta.version',
    );
  });

  it('decodes acks, nacks and CSRs', function () {
    const ack = { type: 'ack', kind: 'config', version: 3, nonce: 'n1' };
    expect(decodeProxyMessage(JSON.stringify(ack))).to.deep.equal(ack);
    const nack = { ...ack, type: 'nack', reason: 'listener port in use' };
    expect(decodeProxyMessage(Buffer.from(JSON.stringify(nack)))).to.deep.equal(nack);
    expect(decodeProxyMessage('{"type":"csr","csr":"x"}')).to.deep.equal({ type: 'csr', csr: 'x' });
  });

  it('refuses malformed proxy frames, naming the field', function () {
    const d = decodeProxyMessage;
    expect(refusedField(d, 'not json')).to.equal('frame');
    expect(refusedField(d, '[1]')).to.equal('frame');
    expect(refusedField(d, { type: 7 })).to.equal('type');
    expect(refusedField(d, { type: 'bye' })).to.equal('type');
    expect(refusedField(d, { ...hello, protocol: 2 })).to.equal('protocol');
    expect(refusedField(d, { ...hello, service: 'Web' })).to.equal('service');
    expect(refusedField(d, { ...hello, port: 70000 })).to.equal('port');
    expect(refusedField(d, { ...hello, instanceId: 'a b' })).to.equal('instanceId');
    expect(refusedField(d, { ...hello, csr: '' })).to.equal('csr');
    expect(refusedField(d, { ...hello, upstreams: {} })).to.equal('upstreams');
    expect(refusedField(d, { ...hello, upstreams: [{ service: 'a', localPort: 0 }] })).to.equal(
      'upstreams[0].localPort',
    );
    expect(
      refusedField(d, {
        ...hello,
        upstreams: [
          { service: 'a', localPort: 9001 },
          { service: 'b', localPort: 9001 },
        ],
      }),
    ).to.equal('upstreams[1].localPort');
    expect(refusedField(d, { type: 'ack', kind: 'cluster', version: 1, nonce: 'n' })).to.equal(
      'kind',
    );
    expect(refusedField(d, { type: 'ack', kind: 'config', version: 0, nonce: 'n' })).to.equal(
      'version',
    );
    expect(refusedField(d, { type: 'nack', kind: 'config', version: 1, nonce: 'n' })).to.equal(
      'reason',
    );
    expect(refusedField(d, { type: 'csr', csr: 'x'.repeat(70_000) })).to.equal('csr');
    expect(refusedField(d, 'x'.repeat(MAX_FRAME_BYTES + 1))).to.equal('frame');
  });

  it('decodes an upstream pinned to a zone, one listener per service and zone', function () {
    const decoded = decodeProxyMessage(
      JSON.stringify({
        ...hello,
        upstreams: [
          { service: 'api', localPort: 9001 },
          { service: 'api', localPort: 9002, zone: 'west' },
          { service: 'api', namespace: 'payments', localPort: 9003, zone: 'east' },
        ],
      }),
    );
    expect(decoded).to.deep.include({
      upstreams: [
        { service: 'api', namespace: 'default', localPort: 9001 },
        { service: 'api', namespace: 'default', localPort: 9002, zone: 'west' },
        { service: 'api', namespace: 'payments', localPort: 9003, zone: 'east' },
      ],
    });
    expect(upstreamListenerName({ service: 'api' })).to.equal('api');
    expect(upstreamListenerName({ service: 'api', zone: 'west' })).to.equal('api--west');
  });

  it('refuses a pinned upstream whose zone is not a label, repeats a pin, or names too long a listener', function () {
    const d = decodeProxyMessage;
    const upstreams = (...list: Record<string, unknown>[]) => ({ ...hello, upstreams: list });
    expect(refusedField(d, upstreams({ service: 'api', localPort: 1, zone: 'West' }))).to.equal(
      'upstreams[0].zone',
    );
    expect(refusedField(d, upstreams({ service: 'api', localPort: 1, zone: 7 }))).to.equal(
      'upstreams[0].zone',
    );
    // Same service and zone in two namespaces: one listener name for both.
    expect(
      refusedField(
        d,
        upstreams(
          { service: 'api', localPort: 1, zone: 'west' },
          { service: 'api', namespace: 'payments', localPort: 2, zone: 'west' },
        ),
      ),
    ).to.equal('upstreams[1].service');
    // A service literally named api--west would share the pinned listener's name.
    expect(
      refusedField(
        d,
        upstreams(
          { service: 'api', localPort: 1, zone: 'west' },
          { service: 'api--west', localPort: 2 },
        ),
      ),
    ).to.equal('upstreams[1].service');
    expect(
      refusedField(d, upstreams({ service: 's'.repeat(40), localPort: 1, zone: 'z'.repeat(22) })),
    ).to.equal('upstreams[0].zone');
    expect(() =>
      d(JSON.stringify(upstreams({ service: 's'.repeat(40), localPort: 1, zone: 'z'.repeat(21) }))),
    ).not.to.throw();
  });

  it('refuses hello fields the catalog would refuse, naming the hello field', function () {
    const d = decodeProxyMessage;
    expect(refusedField(d, { ...hello, meta: { 'app.version': 'v2' } })).to.equal(
      'meta.app.version',
    );
    expect(refusedField(d, { ...hello, meta: { 'consul-x': 'v2' } })).to.equal('meta.consul-x');
    expect(refusedField(d, { ...hello, address: '0.0.0.0' })).to.equal('address');
    expect(refusedField(d, { ...hello, address: 'not an address!' })).to.equal('address');
    expect(refusedField(d, { ...hello, tags: ['ok', 'x'.repeat(100_000)] })).to.equal('tags[1]');
    expect(refusedField(d, { ...hello, node: 'vm\n1' })).to.equal('node');
    expect(refusedField(d, { ...hello, node: 'n'.repeat(129) })).to.equal('node');
    // Listeners are named after the upstream service: the same service in two namespaces
    // would be two listeners of one name.
    expect(
      refusedField(d, {
        ...hello,
        upstreams: [
          { service: 'backend', localPort: 9001 },
          { service: 'backend', namespace: 'payments', localPort: 9002 },
        ],
      }),
    ).to.equal('upstreams[1].service');
    const ok = decodeProxyMessage(
      JSON.stringify({ ...hello, meta: { version: 'v2' }, tags: ['t'.repeat(256)], node: 'vm-1' }),
    );
    expect(ok).to.deep.include({ meta: { version: 'v2' }, node: 'vm-1' });
  });

  it('decodes and checks zone pushes', function () {
    const bundle = {
      type: 'bundle',
      version: 2,
      nonce: 'b',
      roots: ['pem'],
      revokedSerials: ['1ab'],
    };
    expect(decodeZoneMessage(JSON.stringify(bundle))).to.deep.equal(bundle);
    const leaf = {
      type: 'leaf',
      version: 1,
      nonce: 'l',
      certificatePem: 'c',
      chainPem: 'cc',
      issuedAt: '2026-11-22T10:00:00.000Z',
      notAfter: '2026-11-23T10:00:00.000Z',
    };
    expect(decodeZoneMessage(JSON.stringify(leaf))).to.deep.equal(leaf);
    const config = { type: 'config', version: 5, nonce: 'c', snapshot: { listeners: [] } };
    expect(decodeZoneMessage(JSON.stringify(config))).to.deep.equal(config);
    const error = { type: 'error', code: 'CW_ERR_INVALID_ARGUMENT', message: 'no', field: 'csr' };
    expect(decodeZoneMessage(JSON.stringify(error))).to.deep.equal(error);

    const d = decodeZoneMessage;
    expect(refusedField(d, { ...bundle, roots: [] })).to.equal('roots');
    expect(refusedField(d, { ...bundle, revokedSerials: ['XYZ'] })).to.equal('revokedSerials[0]');
    expect(refusedField(d, { ...leaf, notAfter: 'tomorrow' })).to.equal('notAfter');
    expect(refusedField(d, { ...config, snapshot: [] })).to.equal('snapshot');
    expect(refusedField(d, { ...error, field: 3 })).to.equal('field');
    expect(refusedField(d, { type: 'hello' })).to.equal('type');
  });

  it('turns refusals into error frames, and hides unexpected errors', function () {
    expect(errorFrame(new InvalidArgumentError('bad port', 'port'))).to.deep.equal({
      type: 'error',
      code: 'CW_ERR_INVALID_ARGUMENT',
      message: 'bad port',
      field: 'port',
    });
    expect(errorFrame(new NotFoundError('no such service'))).to.deep.equal({
      type: 'error',
      code: 'CW_ERR_NOT_FOUND',
      message: 'no such service',
    });
    expect(errorFrame(new Error('stack detail'))).to.deep.equal({
      type: 'error',
      code: 'CW_ERR_INTERNAL',
      message: 'internal error',
    });
  });
});

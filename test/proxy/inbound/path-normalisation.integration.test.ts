/**
 * L7 authorization sees, and the app receives, one normalised path: spellings of a denied
 * path (absolute-form, dot segments, doubled slashes, percent-encoding, a fragment) are
 * denied like the path itself, and an encoded slash is refused outright.
 */
import tls from 'node:tls';
import { expect } from 'chai';
import { pino } from 'pino';
import { TlsIdentity } from '../../../proxy/src/identity/tls-identity.ts';
import { Inbound } from '../../../proxy/src/inbound/inbound.ts';
import { ProxyMetrics } from '../../../proxy/src/metrics.ts';
import { withTimeout } from '../../helpers/async.ts';
import { TestCa } from '../../helpers/test-ca.ts';
import type { TestLeaf } from '../../helpers/test-ca.ts';
import { inboundConfig } from '../fixtures/configs.ts';
import { startHttpApp } from '../fixtures/local-apps.ts';
import type { HttpApp } from '../fixtures/local-apps.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

describe('inbound path normalisation (integration)', function () {
  this.timeout(30_000);
  let ca: TestCa;
  let web: TestLeaf;
  let app: HttpApp;
  let inbound: Inbound;

  before(async function () {
    ca = await TestCa.create();
    const [serverLeaf, caller] = await Promise.all([ca.leaf('api'), ca.leaf('web')]);
    web = caller;
    app = await startHttpApp();
    const identity = new TlsIdentity({ trustDomain: 'causeway.mesh' });
    identity.update({ ...serverLeaf, roots: [ca.rootPem], revokedSerials: [] });
    inbound = new Inbound({
      tls: identity,
      metrics: new ProxyMetrics(),
      logger,
      bindAddress: '127.0.0.1',
      app: { address: '127.0.0.1', port: app.port },
      drainMs: 0,
    });
    await inbound.listen(0);
    await inbound.apply(
      inboundConfig('http', {
        defaultAction: 'allow',
        rules: [
          { action: 'deny', source: { service: 'web' }, http: [{ pathPrefix: '/admin' }] },
          { action: 'deny', source: { service: 'web' }, http: [{ pathExact: '/secret' }] },
        ],
      }),
    );
  });
  after(async function () {
    await inbound?.close();
    await app?.close();
  });

  /** Send `head` (request line and headers) as is over mTLS; the status and body. */
  function raw(head: string): Promise<{ status: number; text: string }> {
    const done = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const s = tls.connect(
        {
          host: '127.0.0.1',
          port: inbound.port(),
          key: web.keyPem,
          cert: web.chainPem,
          ca: [ca.rootPem],
          checkServerIdentity: () => undefined,
        },
        () => s.write(`${head}\r\nConnection: close\r\n\r\n`),
      );
      let text = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => (text += d));
      s.on('error', reject);
      s.on('close', () => resolve({ status: Number(text.slice(9, 12)), text }));
    });
    return withTimeout(done, 10_000, `the request ${head.split('\r\n')[0]}`);
  }

  const denied = [
    'GET http://evil/admin HTTP/1.1\r\nHost: api',
    'GET /api/../admin HTTP/1.1\r\nHost: api',
    'GET //admin HTTP/1.1\r\nHost: api',
    'GET /%61dmin HTTP/1.1\r\nHost: api',
    'GET /%2e%2e/admin HTTP/1.1\r\nHost: api',
    'GET /x/..\\admin HTTP/1.1\r\nHost: api',
  ];
  for (const head of denied) {
    it(`denies ${JSON.stringify(head.split(' ')[1])} like /admin`, async function () {
      const res = await raw(head);
      expect(res.status, res.text).to.equal(403);
      expect(res.text).to.contain('/admin');
    });
  }

  it('denies /secret#x like /secret (a rule on the exact path)', async function () {
    const res = await raw('GET /secret#x HTTP/1.1\r\nHost: api');
    expect(res.status, res.text).to.equal(403);
  });

  it('answers 400 to an encoded slash or backslash', async function () {
    expect((await raw('GET /x%2Fadmin HTTP/1.1\r\nHost: api')).status).to.equal(400);
    expect((await raw('GET /x%5cadmin HTTP/1.1\r\nHost: api')).status).to.equal(400);
  });

  it('forwards the normalised path, and the authority of an absolute-form target as Host', async function () {
    const res = await raw('GET http://orders.example/a/./b/%7euser//c?q=%2F HTTP/1.1\r\nHost: api');
    expect(res.status, res.text).to.equal(200);
    const seen = app.seen.at(-1);
    expect(seen?.url).to.equal('/a/b/~user/c?q=%2F');
    expect(seen?.headers.host).to.equal('orders.example');
  });

  it('answers 100 Continue only after authorizing the request', async function () {
    const deniedRes = await raw(
      'POST /admin HTTP/1.1\r\nHost: api\r\nExpect: 100-continue\r\nContent-Length: 2',
    );
    expect(deniedRes.text).to.match(/^HTTP\/1\.1 403 /);
    const before = app.seen.length;
    const allowed = await new Promise<string>((resolve, reject) => {
      const s = tls.connect(
        {
          host: '127.0.0.1',
          port: inbound.port(),
          key: web.keyPem,
          cert: web.chainPem,
          ca: [ca.rootPem],
          checkServerIdentity: () => undefined,
        },
        () =>
          s.write(
            'POST /orders HTTP/1.1\r\nHost: api\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n',
          ),
      );
      let text = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => {
        if (text === '' && d.startsWith('HTTP/1.1 100')) s.write('hi');
        text += d;
      });
      s.on('error', reject);
      s.on('close', () => resolve(text));
    });
    expect(allowed).to.match(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    expect(app.seen.length).to.equal(before + 1);
    expect(app.seen.at(-1)?.body).to.equal('hi');
  });
});

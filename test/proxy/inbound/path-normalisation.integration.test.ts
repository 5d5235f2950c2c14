/**
 * L7 authorization sees, and the app receives, one normalised path: spellings of a denied
 * path (absolute-form, dot segments, doubled slashes, percent-encoding, a fragment) are
 * denied like the path itself, and an encoded slash is refused outright.
 */
import { expect } from 'chai';
import { withTimeout } from '../../helpers/async.ts';
import { inboundConfig } from '../fixtures/configs.ts';
import { startInboundWithHttpApp } from '../fixtures/inbound-fixture.ts';
import type { InboundUnderTest } from '../fixtures/inbound-fixture.ts';

describe('inbound path normalisation (integration)', function () {
  this.timeout(30_000);
  let t: InboundUnderTest;

  before(async function () {
    t = await startInboundWithHttpApp({
      config: inboundConfig('http', {
        defaultAction: 'allow',
        rules: [
          { action: 'deny', source: { service: 'web' }, http: [{ pathPrefix: '/admin' }] },
          { action: 'deny', source: { service: 'web' }, http: [{ pathExact: '/secret' }] },
        ],
      }),
    });
  });
  after(async function () {
    await t?.close();
  });

  /** Send `head` (request line and headers) as is over mTLS; the status and body. */
  async function raw(head: string): Promise<{ status: number; text: string }> {
    const text = await withTimeout(
      t.exchange(`${head}\r\nConnection: close\r\n\r\n`),
      10_000,
      `the request ${head.split('\r\n')[0]}`,
    );
    return { status: Number(text.slice(9, 12)), text };
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
    const seen = t.app.seen.at(-1);
    expect(seen?.url).to.equal('/a/b/~user/c?q=%2F');
    expect(seen?.headers.host).to.equal('orders.example');
  });

  it('answers 100 Continue only after authorizing the request', async function () {
    const deniedRes = await raw(
      'POST /admin HTTP/1.1\r\nHost: api\r\nExpect: 100-continue\r\nContent-Length: 2',
    );
    expect(deniedRes.text).to.match(/^HTTP\/1\.1 403 /);
    const before = t.app.seen.length;
    const allowed = await t.exchange(
      'POST /orders HTTP/1.1\r\nHost: api\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n',
      (chunk, socket, received) => {
        if (received === '' && chunk.startsWith('HTTP/1.1 100')) socket.write('hi');
      },
    );
    expect(allowed).to.match(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    expect(t.app.seen.length).to.equal(before + 1);
    expect(t.app.seen.at(-1)?.body).to.equal('hi');
  });
});

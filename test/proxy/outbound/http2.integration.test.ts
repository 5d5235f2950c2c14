import { once } from 'node:events';
import { connect } from 'node:http2';
import type { ClientHttp2Session, IncomingHttpHeaders } from 'node:http2';
import { expect } from 'chai';
import { OutboundFixture, scriptedApp } from './outbound-fixture.ts';

const { endpoint, simple } = OutboundFixture;

interface H2Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function h2call(
  session: ClientHttp2Session,
  path: string,
  method = 'GET',
  body?: string,
): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ':method': method, 'x-app': 'h2' });
    let headers: IncomingHttpHeaders = {};
    let data = '';
    stream.on('response', (h) => (headers = h));
    stream.on('data', (c: Buffer) => (data += c.toString()));
    stream.on('end', () => resolve({ status: Number(headers[':status']), headers, body: data }));
    stream.on('error', reject);
    stream.end(body);
  });
}

describe('Outbound h2c listener', function () {
  let f: OutboundFixture;
  let session: ClientHttp2Session | undefined;

  beforeEach(async function () {
    f = await OutboundFixture.create();
  });

  afterEach(async function () {
    session?.destroy();
    await f.close();
  });

  it('proxies HTTP/2 streams from the app to an HTTP/1.1 mTLS upstream', async function () {
    const seen: { host?: string; app?: string; url?: string; body: string }[] = [];
    const backend = await f.backend((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({
          host: req.headers.host,
          app: req.headers['x-app'] as string,
          url: req.url,
          body,
        });
        // Chunked on HTTP/1.1: the listener must not pass transfer-encoding to HTTP/2.
        res.writeHead(200, { 'x-upstream': 'yes' });
        res.write('hello ');
        res.end('h2');
      });
    });
    await f.outbound.apply(simple([endpoint(backend)], {}, {}, 'http2'));
    session = connect(`http://127.0.0.1:${f.port()}`);
    await once(session, 'connect');
    const replies = await Promise.all([
      h2call(session, '/a?x=1'),
      h2call(session, '/b', 'POST', 'payload'),
    ]);
    expect(replies.map((r) => r.status)).to.deep.equal([200, 200]);
    expect(replies[0]?.body).to.equal('hello h2');
    expect(replies[0]?.headers['x-upstream']).to.equal('yes');
    expect(seen.map((s) => s.url).sort()).to.deep.equal(['/a?x=1', '/b']);
    expect(seen.find((s) => s.url === '/b')?.body).to.equal('payload');
    expect(seen[0]?.host).to.equal(`127.0.0.1:${f.port()}`);
    expect(seen[0]?.app).to.equal('h2');
  });

  it('applies routes, retries and local replies on h2c too', async function () {
    const app = scriptedApp([500, 200]);
    const backend = await f.backend(app);
    await f.outbound.apply(simple([endpoint(backend)], {}, {}, 'http2'));
    session = connect(`http://127.0.0.1:${f.port()}`);
    await once(session, 'connect');
    expect((await h2call(session, '/')).status).to.equal(200);
    expect(app.hits).to.equal(2);
    await f.outbound.apply(
      simple(
        [endpoint(backend)],
        {},
        { fault: { abort: { percent: 100, httpStatus: 503 } } },
        'http2',
      ),
    );
    const aborted = await h2call(session, '/');
    expect(aborted.status).to.equal(503);
    expect(aborted.body).to.equal('fault filter abort');
  });
});

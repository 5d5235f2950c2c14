/**
 * Destinations that answer what Node's HTTP client parser accepts but the listener cannot
 * relay as is: a status below 100, a control character in the reason phrase, headers an
 * HTTP/2 downstream refuses. The app gets a 502 (or the response minus the bad header);
 * the proxy keeps serving.
 */
import http2 from 'node:http2';
import type { RequestListener } from 'node:http';
import { expect } from 'chai';
import { withTimeout } from '../../helpers/async.ts';
import { OutboundFixture } from './outbound-fixture.ts';

/** An upstream app that writes `raw` on the connection instead of a proper response. */
function rawApp(raw: string): RequestListener {
  return (req) => {
    req.resume();
    req.socket.end(raw);
  };
}

/** One GET through an h2c listener: the status and headers. */
async function h2Call(port: number): Promise<http2.IncomingHttpHeaders> {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  try {
    const req = client.request({ ':path': '/' });
    req.end();
    req.resume();
    return await withTimeout(
      new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        req.on('response', resolve);
        req.on('error', reject);
      }),
      10_000,
      'the h2c call',
    );
  } finally {
    client.close();
  }
}

describe('outbound listeners with a misbehaving destination (integration)', function () {
  this.timeout(30_000);
  let f: OutboundFixture;

  beforeEach(async function () {
    f = await OutboundFixture.create();
  });
  afterEach(async function () {
    await f?.close();
  });

  const cases: Record<string, string> = {
    'a status below 100': 'HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n',
    'a control character in the reason phrase': 'HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n',
  };
  for (const [what, raw] of Object.entries(cases)) {
    it(`answers 502 when the destination sends ${what}, and keeps serving`, async function () {
      const bad = await f.backend(rawApp(raw));
      const good = await f.backend((req, res) => {
        req.resume();
        res.end('ok');
      });
      await f.outbound.apply(
        OutboundFixture.simple([OutboundFixture.endpoint(bad)], {}, { retry: { numRetries: 0 } }),
      );
      const res = await withTimeout(f.call('/'), 10_000, 'the call');
      expect(res.status).to.equal(502);
      await f.outbound.apply(OutboundFixture.simple([OutboundFixture.endpoint(good)]));
      expect((await f.call('/')).status).to.equal(200);
    });
  }

  it('drops HTTP2-Settings from a response to an h2c caller', async function () {
    const t = await f.backend((req, res) => {
      req.resume();
      res.setHeader('HTTP2-Settings', 'AAMAAABkAAQAAP__');
      res.end('hi');
    });
    await f.outbound.apply(OutboundFixture.simple([OutboundFixture.endpoint(t)], {}, {}, 'http2'));
    const headers = await h2Call(f.port());
    expect(headers[':status']).to.equal(200);
    expect(headers).to.not.have.property('http2-settings');
  });

  it('keeps the first of repeated single-value headers for an h2c caller', async function () {
    const t = await f.backend((req, res) => {
      req.resume();
      res.writeHead(200, ['Content-Type', 'text/plain', 'Content-Type', 'text/html']);
      res.end('hi');
    });
    await f.outbound.apply(OutboundFixture.simple([OutboundFixture.endpoint(t)], {}, {}, 'http2'));
    const headers = await h2Call(f.port());
    expect(headers[':status']).to.equal(200);
    expect(headers['content-type']).to.equal('text/plain');
    // The listener still serves.
    expect((await h2Call(f.port()))[':status']).to.equal(200);
  });

  it('does not forward request headers the Connection header names', async function () {
    const seen: Record<string, unknown>[] = [];
    const t = await f.backend((req, res) => {
      seen.push(req.headers);
      req.resume();
      res.end('ok');
    });
    await f.outbound.apply(OutboundFixture.simple([OutboundFixture.endpoint(t)]));
    const res = await f.call('/', {
      headers: { connection: 'keep-alive, x-hop', 'x-hop': 'secret', 'x-end': 'kept' },
    });
    expect(res.status).to.equal(200);
    expect(seen[0]).to.not.have.property('x-hop');
    expect(seen[0]).to.have.property('x-end', 'kept');
  });
});

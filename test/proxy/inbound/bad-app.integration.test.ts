/**
 * An app that answers what Node's HTTP client parser accepts but no proxy may relay: a
 * status below 100, control characters in the reason phrase or a header value, a 101 it
 * was not asked for. Each becomes a 502 for the caller; the proxy keeps serving.
 */
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Inbound } from '../../../proxy/src/inbound/inbound.ts';
import { withTimeout } from '../../helpers/async.ts';
import type { TestCa, TestLeaf } from '../../helpers/test-ca.ts';
import { inboundParties, startInbound } from '../fixtures/inbound-fixture.ts';
import { meshRequest } from '../fixtures/mesh-client.ts';

describe('inbound listener with a misbehaving app (integration)', function () {
  this.timeout(30_000);
  let ca: TestCa;
  let web: TestLeaf;
  let inbound: Inbound;
  let app: net.Server;
  /** What the app writes back to the next request, raw. */
  let answer = '';

  before(async function () {
    const parties = await inboundParties();
    ({ ca, web } = parties);
    app = net.createServer((s) => {
      s.on('error', () => undefined);
      s.once('data', () => s.end(answer));
    });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    inbound = await startInbound({
      tls: parties.identity,
      appPort: (app.address() as AddressInfo).port,
    });
  });
  after(async function () {
    await inbound?.close();
    app?.close();
  });

  function call(): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    return withTimeout(
      meshRequest({ port: inbound.port(), leaf: web, roots: [ca.rootPem] }),
      10_000,
      'the call through the inbound proxy',
    );
  }

  const cases: Record<string, string> = {
    'a status below 100': 'HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n',
    'status 000': 'HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n',
    'a control character in the reason phrase': 'HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n',
    'an unasked-for 101':
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n',
  };
  for (const [what, raw] of Object.entries(cases)) {
    it(`answers 502 when the app sends ${what}, and keeps serving`, async function () {
      answer = raw;
      const res = await call();
      expect(res.status).to.equal(502);
      answer = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
      expect((await call()).status).to.equal(200);
    });
  }

  it('does not relay HTTP2-Settings from the app (HTTP/2 callers would refuse the response)', async function () {
    answer = 'HTTP/1.1 200 OK\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 2\r\n\r\nok';
    const res = await call();
    expect(res.status).to.equal(200);
    expect(res.headers).to.not.have.property('http2-settings');
  });
});

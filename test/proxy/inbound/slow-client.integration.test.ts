/**
 * A mesh peer that never finishes its request (slowloris) does not hold an inbound
 * connection forever: headers and whole requests have deadlines, then 408 and close.
 */
import { expect } from 'chai';
import { eventually, withTimeout } from '../../helpers/async.ts';
import { startInboundWithHttpApp } from '../fixtures/inbound-fixture.ts';
import type { InboundUnderTest } from '../fixtures/inbound-fixture.ts';

describe('inbound listener with slow clients (integration)', function () {
  this.timeout(30_000);
  let t: InboundUnderTest;

  before(async function () {
    t = await startInboundWithHttpApp({ headersTimeoutMs: 1000, requestTimeoutMs: 2000 });
  });
  after(async function () {
    await t?.close();
  });

  /** Write `partial` and never finish; what the proxy answered by the time it closed. */
  function stall(partial: string): Promise<string> {
    // Far above the deadlines (1 s, 2 s) and their check interval, far below the defaults.
    return withTimeout(t.exchange(partial), 15_000, 'the proxy to close the stalled connection');
  }

  it('answers 408 and closes when the headers do not arrive in time', async function () {
    expect(await stall('GET / HTTP/1.1\r\nHost: api\r\nX-Slow: ')).to.match(/^HTTP\/1\.1 408 /);
    await eventually(() => t.inbound.connections() === 0, 'the proxy to forget the connection');
  });

  it('answers 408 and closes when the body does not arrive in time', async function () {
    const text = await stall('POST / HTTP/1.1\r\nHost: api\r\nContent-Length: 10\r\n\r\nab');
    expect(text).to.match(/408/);
  });
});

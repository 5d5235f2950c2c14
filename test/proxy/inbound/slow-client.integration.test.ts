/**
 * A mesh peer that never finishes its request (slowloris) does not hold an inbound
 * connection forever: headers and whole requests have deadlines, then 408 and close.
 */
import tls from 'node:tls';
import { expect } from 'chai';
import { pino } from 'pino';
import { TlsIdentity } from '../../../proxy/src/identity/tls-identity.ts';
import { Inbound } from '../../../proxy/src/inbound/inbound.ts';
import { ProxyMetrics } from '../../../proxy/src/metrics.ts';
import { eventually, withTimeout } from '../../helpers/async.ts';
import { TestCa } from '../../helpers/test-ca.ts';
import type { TestLeaf } from '../../helpers/test-ca.ts';
import { inboundConfig } from '../fixtures/configs.ts';
import { startHttpApp } from '../fixtures/local-apps.ts';
import type { HttpApp } from '../fixtures/local-apps.ts';

describe('inbound listener with slow clients (integration)', function () {
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
      logger: pino({ level: 'silent' }),
      bindAddress: '127.0.0.1',
      app: { address: '127.0.0.1', port: app.port },
      drainMs: 0,
      headersTimeoutMs: 1000,
      requestTimeoutMs: 2000,
    });
    await inbound.listen(0);
    await inbound.apply(inboundConfig('http'));
  });
  after(async function () {
    await inbound?.close();
    await app?.close();
  });

  /** Write `partial` and never finish; what the proxy answered by the time it closed. */
  function stall(partial: string): Promise<string> {
    const answered = new Promise<string>((resolve, reject) => {
      const s = tls.connect(
        {
          host: '127.0.0.1',
          port: inbound.port(),
          key: web.keyPem,
          cert: web.chainPem,
          ca: [ca.rootPem],
          checkServerIdentity: () => undefined,
        },
        () => s.write(partial),
      );
      let text = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => (text += d));
      s.on('error', reject);
      s.on('close', () => resolve(text));
    });
    // Far above the deadlines (1 s, 2 s) and their check interval, far below the defaults.
    return withTimeout(answered, 15_000, 'the proxy to close the stalled connection');
  }

  it('answers 408 and closes when the headers do not arrive in time', async function () {
    expect(await stall('GET / HTTP/1.1\r\nHost: api\r\nX-Slow: ')).to.match(/^HTTP\/1\.1 408 /);
    await eventually(() => inbound.connections() === 0, 'the proxy to forget the connection');
  });

  it('answers 408 and closes when the body does not arrive in time', async function () {
    const text = await stall('POST / HTTP/1.1\r\nHost: api\r\nContent-Length: 10\r\n\r\nab');
    expect(text).to.match(/408/);
  });
});

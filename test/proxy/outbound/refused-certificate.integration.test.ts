/**
 * A destination that refuses our certificate (TLS 1.3 reports that only after our side
 * finished the handshake, as a reset) counts as a connect failure: a buffered request is
 * retried on another endpoint whatever its method, and a streamed body that had started
 * to flow is never sent again (so never truncated).
 */
import http from 'node:http';
import { expect } from 'chai';
import { TlsIdentity } from '../../../proxy/src/identity/tls-identity.ts';
import { MtlsTerminator } from '../../helpers/proxy-identity.ts';
import { TestCa } from '../../helpers/test-ca.ts';
import { OutboundFixture } from './outbound-fixture.ts';

/** Counts the request body and answers how much arrived. */
const counting: http.RequestListener = (req, res) => {
  let n = 0;
  req.on('data', (c: Buffer) => (n += c.length));
  req.on('end', () => res.end(`got ${n}`));
};

describe('outbound to a destination that refuses our certificate (integration)', function () {
  this.timeout(30_000);
  let f: OutboundFixture;
  let refusing: MtlsTerminator;

  beforeEach(async function () {
    f = await OutboundFixture.create();
    // Presents a certificate we trust but trusts only another root, so it refuses ours.
    const other = await TestCa.create();
    const material = await f.ca.identity({ service: 'backend' });
    const identity = new TlsIdentity({ trustDomain: 'causeway.mesh' });
    identity.update({ ...material, roots: [other.rootPem] });
    refusing = await MtlsTerminator.start({ identity, app: counting });
    f.terminators.push(refusing);
    const accepting = await f.backend(counting);
    await f.outbound.apply(
      OutboundFixture.simple(
        [OutboundFixture.endpoint(refusing), OutboundFixture.endpoint(accepting)],
        { outlier: { consecutiveConnectFailures: 0 }, lb: { policy: 'round_robin' } },
        { timeoutMs: 5000 },
      ),
    );
  });
  afterEach(async function () {
    await f?.close();
  });

  function post(size: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: f.port(),
          method: 'POST',
          path: '/',
          agent: false,
          headers: { 'content-length': size },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(`${res.statusCode} ${body}`));
        },
      );
      req.on('error', reject);
      req.end(Buffer.alloc(size, 7));
    });
  }

  it('retries a buffered POST on another endpoint', async function () {
    for (let i = 0; i < 4; i++) expect(await post(1000)).to.equal('200 got 1000');
    expect(refusing.tlsErrors.length).to.be.greaterThan(0);
  });

  it('never retries a streamed body that started to flow', async function () {
    for (let i = 0; i < 4; i++) {
      const reply = await post(300_000);
      if (!reply.startsWith('503 ')) expect(reply).to.equal('200 got 300000');
    }
  });
});

/**
 * A destination whose leaf is revoked (or whose root leaves the bundle) stops being used
 * at once: pooled keep-alive connections to it close on the identity change instead of
 * serving until they idle out, and new ones are refused.
 */
import http from 'node:http';
import { expect } from 'chai';
import { createLogger } from '../../../core/index.ts';
import type { IdentityMaterial } from '../../../proxy/src/identity/tls-identity.ts';
import { TlsIdentity } from '../../../proxy/src/identity/tls-identity.ts';
import { ProxyMetrics } from '../../../proxy/src/metrics.ts';
import { Outbound } from '../../../proxy/src/outbound/outbound.ts';
import { eventually } from '../../helpers/async.ts';
import { MtlsTerminator } from '../../helpers/proxy-identity.ts';
import { TestCa, serialOf } from '../../helpers/test-ca.ts';
import { OutboundFixture, scriptedApp } from './outbound-fixture.ts';

describe('outbound connections to a revoked destination (integration)', function () {
  this.timeout(30_000);
  let ca: TestCa;
  let webMaterial: IdentityMaterial;
  let backendMaterial: IdentityMaterial;
  let web: TlsIdentity;
  let outbound: Outbound;
  let terminator: MtlsTerminator;
  let agent: http.Agent;

  beforeEach(async function () {
    ca = await TestCa.create();
    [webMaterial, backendMaterial] = await Promise.all([
      ca.identity({ service: 'web' }),
      ca.identity({ service: 'backend' }),
    ]);
    web = new TlsIdentity({ trustDomain: 'causeway.mesh' });
    web.update(webMaterial);
    const backend = new TlsIdentity({ trustDomain: 'causeway.mesh' });
    backend.update(backendMaterial);
    terminator = await MtlsTerminator.start({ identity: backend, app: scriptedApp([200]) });
    outbound = new Outbound({
      tls: web,
      metrics: new ProxyMetrics(),
      logger: createLogger({ level: 'silent' }),
      drainMs: 0,
    });
    await outbound.apply(
      OutboundFixture.simple(
        [OutboundFixture.endpoint(terminator)],
        {},
        { retry: { numRetries: 0 } },
      ),
    );
    agent = new http.Agent({ keepAlive: true });
  });
  afterEach(async function () {
    agent?.destroy();
    await outbound?.close();
    await terminator?.close();
  });

  function call(): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.get(
        { host: '127.0.0.1', port: outbound.listenerPorts().backend, path: '/', agent },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
    });
  }

  it('closes a pooled connection to a destination whose leaf is revoked', async function () {
    expect(await call()).to.equal(200);
    expect(terminator.connections).to.equal(1);
    web.update({ ...webMaterial, revokedSerials: [serialOf(backendMaterial.certificatePem)] });
    await eventually(() => terminator.connections === 0, 'the pooled connection to close', 2500);
    for (let i = 0; i < 3; i++) expect(await call()).to.equal(503);
    expect(terminator.connections).to.equal(0);
  });

  it('does not reuse a resumed pooled connection after the revocation list changes', async function () {
    expect(await call()).to.equal(200);
    // The next connection resumes the TLS session: the client side has no peer certificate.
    terminator.dropConnections();
    await eventually(() => terminator.connections === 0, 'the connection to drop');
    expect(await call()).to.equal(200);
    expect(terminator.resumed).to.equal(1);
    web.update({ ...webMaterial, revokedSerials: [serialOf(backendMaterial.certificatePem)] });
    for (let i = 0; i < 3; i++) expect(await call()).to.equal(503);
  });

  it('closes a pooled connection whose chain no longer leads to the bundle', async function () {
    expect(await call()).to.equal(200);
    const other = await TestCa.create();
    web.update({ ...webMaterial, roots: [other.rootPem] });
    await eventually(() => terminator.connections === 0, 'the pooled connection to close', 2500);
    expect(await call()).to.equal(503);
  });
});

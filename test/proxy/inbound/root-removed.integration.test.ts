/**
 * A root leaving the trust bundle ends the open connections of peers whose chains lead to
 * it, although their verdicts were cached; peers under the remaining root keep theirs.
 */
import https from 'node:https';
import { expect } from 'chai';
import { TlsIdentity } from '../../../proxy/src/identity/tls-identity.ts';
import type { IdentityMaterial } from '../../../proxy/src/identity/tls-identity.ts';
import type { Inbound } from '../../../proxy/src/inbound/inbound.ts';
import { eventually } from '../../helpers/async.ts';
import { TestCa } from '../../helpers/test-ca.ts';
import { startInbound } from '../fixtures/inbound-fixture.ts';
import { startHttpApp } from '../fixtures/local-apps.ts';
import type { HttpApp } from '../fixtures/local-apps.ts';

describe('inbound connections when a root leaves the bundle (integration)', function () {
  this.timeout(30_000);
  let app: HttpApp;
  let inbound: Inbound;
  const agents: https.Agent[] = [];

  before(async function () {
    app = await startHttpApp();
  });
  after(async function () {
    for (const a of agents) a.destroy();
    await inbound?.close(0);
    await app?.close();
  });

  function agentFor(peer: IdentityMaterial, root: string): https.Agent {
    const agent = new https.Agent({
      keepAlive: true,
      key: peer.keyPem,
      cert: peer.certificatePem + peer.chainPem,
      ca: [root],
      checkServerIdentity: () => undefined,
    });
    agents.push(agent);
    return agent;
  }

  function call(agent: https.Agent): Promise<string> {
    return new Promise((resolve) => {
      const req = https.get(
        { host: '127.0.0.1', port: inbound.port(), path: '/', agent },
        (res) => {
          res.resume();
          res.on('end', () => resolve(String(res.statusCode)));
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
    });
  }

  it('closes connections whose chain leads to the removed root, and only those', async function () {
    const [current, old] = await Promise.all([TestCa.create(), TestCa.create()]);
    const apiMaterial = await current.identity({ service: 'api' }, [old.rootPem]);
    const api = new TlsIdentity({ trustDomain: 'causeway.mesh' });
    api.update(apiMaterial);
    inbound = await startInbound({ tls: api, appPort: app.port });
    const underOld = agentFor(await old.identity({ service: 'web' }), current.rootPem);
    const underCurrent = agentFor(await current.identity({ service: 'batch' }), current.rootPem);
    expect(await call(underOld)).to.equal('200');
    expect(await call(underCurrent)).to.equal('200');
    expect(inbound.connections()).to.equal(2);
    api.update({ ...apiMaterial, roots: [current.rootPem] });
    await eventually(
      () => inbound.connections() === 1,
      'the connection under the old root to close',
      5000,
    );
    expect(await call(underCurrent)).to.equal('200');
    expect(inbound.connections()).to.equal(1);
    expect(await call(underOld)).to.match(/^error/);
  });
});

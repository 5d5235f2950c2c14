/** `/v1/status/*`, unknown paths and wrong methods on a real zone HTTP listener. */
import { expect } from 'chai';
import { startZone } from '../helpers/zone.ts';
import type { TestZone } from '../helpers/zone.ts';

describe('zone status API (integration)', function () {
  let z: TestZone;
  before(async function () {
    z = await startZone();
  });
  after(async function () {
    await z.stop();
  });

  it('names itself as leader and only peer', async function () {
    const leader = await fetch(`${z.url}/v1/status/leader`);
    expect(leader.status).to.equal(200);
    expect(await leader.json()).to.equal(`127.0.0.1:${z.port}`);
    const peers = await fetch(`${z.url}/v1/status/peers`);
    expect(await peers.json()).to.deep.equal([`127.0.0.1:${z.port}`]);
  });

  it('answers 404 in plain text for an unknown /v1 path', async function () {
    const res = await fetch(`${z.url}/v1/nothing/here`);
    expect(res.status).to.equal(404);
    expect(res.headers.get('content-type')).to.match(/^text\/plain/);
  });

  it('answers 405 for a wrong method', async function () {
    const res = await fetch(`${z.url}/v1/status/leader`, { method: 'DELETE' });
    expect(res.status).to.equal(405);
    expect(res.headers.get('content-type')).to.match(/^text\/plain/);
    expect(res.headers.get('allow')).to.include('GET');
    expect(await res.text()).to.equal('method DELETE not allowed on /v1/status/leader\n');
  });
});

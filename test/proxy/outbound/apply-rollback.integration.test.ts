/**
 * A rejected outbound config changes nothing, including a listener whose protocol the
 * snapshot changes on the same port: that switch happens only after every other bind
 * succeeded, and a failed switch brings the old listener back.
 */
import net from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { freePort } from '../../helpers/ports.ts';
import { OutboundFixture, scriptedApp } from './outbound-fixture.ts';

describe('outbound apply rollback (integration)', function () {
  this.timeout(30_000);
  let f: OutboundFixture;
  let blocker: net.Server | undefined;

  beforeEach(async function () {
    f = await OutboundFixture.create();
  });
  afterEach(async function () {
    blocker?.close();
    blocker = undefined;
    await f?.close();
  });

  it('keeps a listener serving when a snapshot that switches its protocol is rejected', async function () {
    const t = await f.backend(scriptedApp([200]));
    const [pa, pb] = [await freePort(), await freePort()];
    blocker = net.createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const busy = (blocker.address() as AddressInfo).port;
    const routes = [{ match: {}, destinations: [{ cluster: 'backend', weight: 1 }] }];
    const clusters = [{ name: 'backend', endpoints: [OutboundFixture.endpoint(t)] }];
    await f.outbound.apply(
      OutboundFixture.config(
        [
          { name: 'a', routes },
          { name: 'b', routes },
        ],
        clusters,
        [pa, pb],
      ),
    );
    expect((await f.call('/', { listener: 'a' })).status).to.equal(200);
    // a: same port, another protocol; b: a port that is taken. The whole snapshot fails.
    let error: Error | undefined;
    await f.outbound
      .apply(
        OutboundFixture.config(
          [
            { name: 'a', protocol: 'tcp', routes },
            { name: 'b', routes },
          ],
          clusters,
          [pa, busy],
        ),
      )
      .catch((err: Error) => (error = err));
    expect(error?.message).to.match(/cannot bind/);
    expect(f.outbound.listenerPorts()).to.deep.equal({ a: pa, b: pb });
    f.agent.destroy();
    expect((await f.call('/', { listener: 'a' })).status).to.equal(200);
  });

  it('switches the protocol on the same port when the snapshot applies', async function () {
    const t = await f.backend();
    const pa = await freePort();
    const routes = [{ match: {}, destinations: [{ cluster: 'backend', weight: 1 }] }];
    const clusters = [{ name: 'backend', endpoints: [OutboundFixture.endpoint(t)] }];
    await f.outbound.apply(OutboundFixture.config([{ name: 'a', routes }], clusters, [pa]));
    await f.outbound.apply(
      OutboundFixture.config([{ name: 'a', protocol: 'tcp', routes }], clusters, [pa]),
    );
    expect(f.outbound.listenerPorts()).to.deep.equal({ a: pa });
    // The TCP listener echoes through the terminator.
    const socket = net.connect(pa, '127.0.0.1');
    socket.end('ping');
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).to.equal('ping');
  });
});

/**
 * Reconnecting to a zone that is down, many times, leaves nothing behind on the stop
 * signal: each backoff wait removes its abort listener when it ends.
 */
import { getEventListeners } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { expect } from 'chai';
import { createLogger } from '../../../core/index.ts';
import { ZoneClient } from '../../../proxy/src/stream/zone-client.ts';
import { eventually } from '../../helpers/async.ts';

describe('proxy stream client reconnecting (integration)', function () {
  this.timeout(30_000);
  let refuser: net.Server;

  before(async function () {
    // A port that accepts and closes at once: every dial fails fast.
    refuser = net.createServer((s) => s.destroy()).listen(0, '127.0.0.1');
    await once(refuser, 'listening');
  });
  after(function () {
    refuser?.close();
  });

  it('does not accumulate abort listeners across reconnect attempts', async function () {
    let dials = 0;
    refuser.on('connection', () => dials++);
    const client = new ZoneClient({
      url: `wss://127.0.0.1:${(refuser.address() as AddressInfo).port}/`,
      token: () => Promise.resolve('token'),
      roots: () => [],
      trustDomain: 'causeway.mesh',
      hello: () =>
        ({
          service: 'web',
          namespace: 'default',
          instanceId: 'i',
          address: '127.0.0.1',
          port: 1,
          upstreams: [],
          appProtocol: 'http',
          node: 'n',
          meta: {},
          tags: [],
        }) as never,
      handler: {
        helloCsr: () => Promise.resolve(''),
        leaf: () => undefined,
        bundle: () => undefined,
        config: () => undefined,
      },
      logger: createLogger({ level: 'silent' }),
      backoffBaseMs: 1,
      backoffMaxMs: 5,
    });
    const ac = new AbortController();
    const before = getEventListeners(ac.signal, 'abort').length;
    const running = client.start(ac.signal);
    try {
      await eventually(() => dials >= 30, '30 reconnect attempts', 20_000);
      // Whatever one attempt holds while it runs, not one per attempt made.
      expect(getEventListeners(ac.signal, 'abort').length - before).to.be.at.most(3);
    } finally {
      ac.abort();
      await running;
    }
  });
});

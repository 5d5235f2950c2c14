import { expect } from 'chai';
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { peekSni } from '../../../gateway/src/sni/peek-sni.ts';
import type { PeekOptions, PeekResult } from '../../../gateway/src/sni/peek-sni.ts';
import { eventually, sleep } from '../../helpers/async.ts';
import { captureClientHello, splitIntoRecords } from '../fixtures/client-hellos.ts';

/** Accept one connection, peek it, and hand back the result and the server's socket. */
async function peekOne(
  options: PeekOptions,
  send: (client: Socket) => Promise<void>,
): Promise<{ result: PeekResult; socket: Socket; client: Socket }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const client = net.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
    client.setNoDelay(true);
    client.on('error', () => undefined);
    await once(client, 'connect');
    const [socket] = await accepted;
    socket.on('error', () => undefined);
    const peeked = peekSni(socket, options);
    await send(client);
    return { result: await peeked, socket, client };
  } finally {
    server.close();
  }
}

describe('peekSni', () => {
  const name = 'api.default.west.causeway.mesh';
  let hello: Buffer;
  const sockets: Socket[] = [];

  before(async () => {
    hello = await captureClientHello(name);
  });

  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
  });

  it('reads a hello sent in many TCP segments and returns every byte read', async () => {
    const fragmented = splitIntoRecords(hello, 100);
    const { result, socket, client } = await peekOne({}, async (c) => {
      for (let at = 0; at < fragmented.length; at += 37) {
        c.write(fragmented.subarray(at, at + 37));
        await sleep(2);
      }
    });
    sockets.push(socket, client);
    expect(result.ok).to.equal(true);
    if (!result.ok) return;
    expect(result.sni).to.equal(name);
    expect(result.data.equals(fragmented)).to.equal(true);
  });

  it('leaves the socket so that bytes put back read again in order', async () => {
    const { result, socket, client } = await peekOne({}, async (c) => {
      c.write(hello);
      await sleep(5);
    });
    sockets.push(socket, client);
    if (!result.ok) expect.fail(result.detail);
    socket.unshift(result.data);
    client.write('after');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const expected = Buffer.concat([hello, Buffer.from('after')]);
    await eventually(() => Buffer.concat(chunks).length >= expected.length, 'the bytes again');
    expect(Buffer.concat(chunks).equals(expected)).to.equal(true);
  });

  it('gives up on a hello larger than the cap', async () => {
    // A hello header announcing 60,000 bytes, then records of filler.
    const head = Buffer.from([0x16, 3, 1, 0x40, 0x00, 1, 0x00, 0xea, 0x60]);
    const { result, socket, client } = await peekOne({ maxBytes: 4096 }, async (c) => {
      c.write(head);
      for (let i = 0; i < 4; i++) {
        c.write(Buffer.alloc(2000));
        await sleep(2);
      }
    });
    sockets.push(socket, client);
    expect(result).to.deep.include({ ok: false, reason: 'bad_client_hello' });
    if (!result.ok) expect(result.detail).to.match(/exceeds 4096 bytes/);
  });

  it('gives up on a client that stops sending half-way', async () => {
    const { result, socket, client } = await peekOne({ timeoutMs: 200 }, async (c) => {
      c.write(hello.subarray(0, 50));
      await sleep(1);
    });
    sockets.push(socket, client);
    expect(result).to.deep.include({ ok: false, reason: 'client_hello_timeout' });
  });

  it('reports garbage at once', async () => {
    const started = Date.now();
    const { result, socket, client } = await peekOne({ timeoutMs: 10_000 }, async (c) => {
      c.write('GET / HTTP/1.1\r\n\r\n');
      await sleep(1);
    });
    sockets.push(socket, client);
    expect(result).to.deep.include({ ok: false, reason: 'bad_client_hello' });
    expect(Date.now() - started).to.be.below(5_000);
  });

  it('reports a client that closes before its hello', async () => {
    const { result, socket, client } = await peekOne({}, async (c) => {
      c.end(hello.subarray(0, 10));
      await sleep(1);
    });
    sockets.push(socket, client);
    expect(result).to.deep.include({ ok: false, reason: 'closed' });
  });
});

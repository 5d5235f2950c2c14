import { expect } from 'chai';
import { parseClientHello } from '../../../gateway/src/sni/client-hello.ts';
import { captureClientHello, splitIntoRecords } from '../fixtures/client-hellos.ts';

describe('parseClientHello', () => {
  const name = 'api.default.west.causeway.mesh';
  let hello: Buffer;
  let noSni: Buffer;

  before(async () => {
    hello = await captureClientHello(name);
    noSni = await captureClientHello(undefined);
  });

  it("finds the server name in a real TLS client's ClientHello", () => {
    expect(parseClientHello(hello)).to.deep.equal({ state: 'done', sni: name });
  });

  it('lowercases the name (SNI is case-insensitive)', async () => {
    const upper = await captureClientHello('API.Default.West.Causeway.Mesh');
    expect(parseClientHello(upper)).to.deep.equal({ state: 'done', sni: name });
  });

  it('asks for more bytes at every cut of a hello arriving in pieces', () => {
    for (let cut = 0; cut < hello.length; cut++) {
      expect(parseClientHello(hello.subarray(0, cut)).state, `cut at ${cut}`).to.equal(
        'incomplete',
      );
    }
  });

  it('joins a hello fragmented over several TLS records', () => {
    for (const size of [1, 7, 64, 200]) {
      const fragmented = splitIntoRecords(hello, size);
      expect(parseClientHello(fragmented), `records of ${size}`).to.deep.equal({
        state: 'done',
        sni: name,
      });
      // ...and waits while the last record is incomplete.
      expect(parseClientHello(fragmented.subarray(0, fragmented.length - 1)).state).to.equal(
        'incomplete',
      );
    }
  });

  it('ignores bytes after the hello (the next flight already in the buffer)', () => {
    const more = Buffer.concat([hello, Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 0x01])]);
    expect(parseClientHello(more)).to.deep.equal({ state: 'done', sni: name });
  });

  it('reports a hello without a server name', () => {
    expect(parseClientHello(noSni)).to.deep.equal({ state: 'done', sni: undefined });
  });

  it('refuses plaintext HTTP at the first byte', () => {
    const result = parseClientHello(Buffer.from('G'));
    expect(result.state).to.equal('invalid');
    expect(parseClientHello(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')).state).to.equal(
      'invalid',
    );
  });

  it('refuses a record that is not TLS, too long, or a handshake that is not a ClientHello', () => {
    const notTls = Buffer.from(hello);
    notTls[1] = 2; // SSL 2-style version byte
    expect(parseClientHello(notTls)).to.include({ state: 'invalid' });
    const tooLong = Buffer.from(hello);
    tooLong.writeUInt16BE(20_000, 3);
    expect(parseClientHello(tooLong)).to.deep.equal({
      state: 'invalid',
      reason: 'bad TLS record length 20000',
    });
    const serverHello = Buffer.from(hello);
    serverHello[5] = 2;
    expect(parseClientHello(serverHello)).to.deep.equal({
      state: 'invalid',
      reason: 'the first handshake is not a ClientHello',
    });
  });

  it('refuses a hello whose inner lengths run past its end', () => {
    // A ClientHello of 40 bytes claiming a 255-byte session id.
    const body = Buffer.alloc(40);
    body.writeUInt16BE(0x0303, 0);
    body[34] = 255;
    const handshake = Buffer.concat([Buffer.from([1, 0, 0, body.length]), body]);
    const record = Buffer.concat([Buffer.from([0x16, 3, 1, 0, handshake.length]), handshake]);
    expect(parseClientHello(record)).to.deep.equal({
      state: 'invalid',
      reason: 'the ClientHello is truncated',
    });
  });

  it('refuses a server name that is not a host name', () => {
    const at = hello.indexOf(Buffer.from(name));
    const bad = Buffer.from(hello);
    bad.write('api/default', at, 'latin1');
    expect(parseClientHello(bad)).to.deep.equal({
      state: 'invalid',
      reason: 'the server name is not a host name',
    });
  });

  it('survives corrupted hellos without throwing', () => {
    // A fixed-seed generator (LCG), so a failure can be replayed.
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.from(hello);
      // Change a few bytes past the record header.
      for (let k = 0; k < 3; k++) junk[5 + random(junk.length - 5)] = random(256);
      expect(['done', 'invalid', 'incomplete']).to.include(parseClientHello(junk).state);
    }
  });
});

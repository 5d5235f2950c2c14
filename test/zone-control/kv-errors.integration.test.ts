/**
 * Bad input on `/v1/kv`: every refusal is a 4xx with a plain-text body naming the
 * problem (Consul's texts where Consul has one), and nothing is written — on the embedded
 * store and on Redis.
 */
import { expect } from 'chai';
import { forEachBackend } from '../helpers/zone.ts';

const LIMIT = 512 * 1024;

forEachBackend('Consul KV API refusing bad input', (env) => {
  const kv = (method: string, path: string, body?: RequestInit['body']): Promise<Response> =>
    fetch(`${env.zone.url}/v1/kv/${path}`, { method, body });

  /** Expect a plain-text refusal; answers the text without its trailing newline. */
  async function refused(res: Response, status: number): Promise<string> {
    expect(res.status).to.equal(status);
    expect(res.headers.get('content-type')).to.match(/^text\/plain/);
    return (await res.text()).trimEnd();
  }

  /** Nothing at all under `prefix`. */
  async function expectNothingUnder(prefix: string): Promise<void> {
    expect((await kv('GET', `${prefix}?recurse`)).status).to.equal(404);
  }

  it('answers "Missing key name" for PUT, DELETE and GET without a key', async function () {
    expect(await refused(await kv('PUT', '', 'v'), 400)).to.equal('Missing key name');
    expect(await refused(await kv('DELETE', ''), 400)).to.equal('Missing key name');
    expect(await refused(await kv('GET', ''), 400)).to.equal('Missing key name');
    const noSlash = await fetch(`${env.zone.url}/v1/kv`, { method: 'PUT', body: 'v' });
    expect(await refused(noSlash, 400)).to.equal('Missing key name');
  });

  it('refuses keys the store cannot hold, with its message, writing nothing', async function () {
    expect(await refused(await kv('PUT', 'bad/a//b', 'v'), 400)).to.equal(
      'key has an empty segment ("//")',
    );
    expect(await refused(await kv('PUT', 'bad/ctl%01x', 'v'), 400)).to.equal(
      'key must not contain NUL or control characters',
    );
    expect(await refused(await kv('PUT', `bad/${'k'.repeat(1100)}`, 'v'), 400)).to.equal(
      'key is 1104 bytes; the limit is 1021',
    );
    expect(await refused(await kv('PUT', 'bad%2F%ZZ', 'v'), 400)).to.equal(
      'Invalid URL escape in key: "bad%2F%ZZ"',
    );
    await expectNothingUnder('bad');
  });

  it('refuses flags and cas values that are not unsigned integers', async function () {
    for (const v of ['abc', '-1', '1.5', '', '18446744073709551615']) {
      const text = await refused(await kv('PUT', `num/a?flags=${v}`, 'v'), 400);
      expect(text).to.equal(
        `Invalid flags value ${JSON.stringify(v)}: must be an integer from 0 to 2^53-1`,
      );
    }
    expect(await refused(await kv('PUT', 'num/a?cas=x', 'v'), 400)).to.match(
      /^Invalid cas value "x"/,
    );
    expect(await refused(await kv('DELETE', 'num/a?cas=-2'), 400)).to.match(/^Invalid cas/);
    await expectNothingUnder('num');
  });

  it("refuses options that cannot be combined, in Consul's words", async function () {
    const put = await kv('PUT', 'mix/a?cas=0&acquire=abc', 'v');
    expect(await refused(put, 400)).to.equal('Conflicting flags: acquire=abc&cas=0');
    const del = await kv('DELETE', 'mix/?recurse&cas=3');
    expect(await refused(del, 400)).to.equal('Conflicting flags: cas=3&recurse=');
    await expectNothingUnder('mix');
  });

  it('refuses a value over 512 KiB with 413 and writes nothing', async function () {
    const big = Buffer.alloc(LIMIT + 1, 0x61);
    const text = await refused(await kv('PUT', 'big/a', big), 413);
    expect(text).to.equal(
      `Request body(${LIMIT + 1} bytes) too large, max size: ${LIMIT} bytes. ` +
        'See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.',
    );
    await expectNothingUnder('big');
    // Exactly the limit is fine.
    expect((await kv('PUT', 'big/b', Buffer.alloc(LIMIT, 0x62))).status).to.equal(200);
  });

  it('refuses an oversize value sent without a length (chunked) with 413', async function () {
    const chunk = Buffer.alloc(64 * 1024, 0x63);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > LIMIT * 2) controller.close();
        else controller.enqueue(chunk);
        sent += chunk.length;
      },
    });
    const res = await fetch(`${env.zone.url}/v1/kv/chunked/a`, {
      method: 'PUT',
      body: stream,
      duplex: 'half',
    });
    const text = await refused(res, 413);
    expect(text).to.match(/^Request body\(more than 524288 bytes\) too large/);
    await expectNothingUnder('chunked');
  });

  it('answers 405 for a method the KV endpoint does not have', async function () {
    const res = await kv('POST', 'method/a', 'v');
    expect(res.status).to.equal(405);
    expect(res.headers.get('content-type')).to.match(/^text\/plain/);
    await expectNothingUnder('method');
  });

  it('refuses a malformed blocking index', async function () {
    expect(await refused(await kv('GET', 'x?index=abc'), 400)).to.equal('Invalid index: "abc"');
  });

  it('refuses an acquire without a session or with an unknown one', async function () {
    expect(await refused(await kv('PUT', 'lockbad/a?acquire=', 'v'), 400)).to.equal(
      'missing session',
    );
    expect(await refused(await kv('PUT', 'lockbad/a?acquire=not-a-uuid', 'v'), 400)).to.equal(
      'invalid session "not-a-uuid"',
    );
    const unknown = '8b1c2d3e-0000-4000-8000-000000000000';
    expect(await refused(await kv('PUT', `lockbad/a?acquire=${unknown}`, 'v'), 400)).to.equal(
      `invalid session "${unknown}"`,
    );
    await expectNothingUnder('lockbad');
  });
});

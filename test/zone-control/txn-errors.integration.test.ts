/**
 * Bad input on `/v1/txn`: malformed bodies and fields are a 400 naming the op and field,
 * size limits a 413 in Consul's words, and in every case nothing is written — on embedded
 * and Redis.
 */
import { expect } from 'chai';
import { forEachBackend } from '../helpers/zone.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

forEachBackend('Consul transactions refusing bad input', (env) => {
  /** PUT a raw body; expect a plain-text refusal and answer its text. */
  async function refused(body: unknown, status: number): Promise<string> {
    const res = await fetch(`${env.zone.url}/v1/txn`, {
      method: 'PUT',
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    expect(res.status).to.equal(status);
    expect(res.headers.get('content-type')).to.match(/^text\/plain/);
    return (await res.text()).trimEnd();
  }

  async function nothingUnder(prefix: string): Promise<void> {
    expect((await fetch(`${env.zone.url}/v1/kv/${prefix}?recurse`)).status).to.equal(404);
  }

  const set = (key: string): unknown => ({ KV: { Verb: 'set', Key: key, Value: b64('v') } });

  it('refuses malformed JSON and a body that is not an array of operations', async function () {
    expect(await refused('[{"KV":', 400)).to.match(/^Failed to parse body: /);
    expect(await refused({ KV: { Verb: 'get', Key: 'a' } }, 400)).to.equal(
      'Failed to parse body: the body must be a JSON array of operations',
    );
    expect(await refused([5], 400)).to.equal('Failed to parse body: ops[0]: must be an object');
    expect(await refused([{}], 400)).to.equal(
      'Failed to parse body: ops[0]: no operation specified',
    );
  });

  it('refuses 65 operations with 413, writing none of them', async function () {
    const ops = Array.from({ length: 65 }, (_, i) => set(`many/${i}`));
    expect(await refused(ops, 413)).to.equal('Transaction contains too many operations (65 > 64)');
    await nothingUnder('many');
  });

  it('refuses a value over 512 KiB with 413, writing nothing', async function () {
    const big = Buffer.alloc(512 * 1024 + 1, 0x61).toString('base64');
    const ops = [set('bigtx/ok'), { KV: { Verb: 'set', Key: 'bigtx/big', Value: big } }];
    expect(await refused(ops, 413)).to.equal(
      'Value for key "bigtx/big" is too large (524289 > 524288 bytes)',
    );
    await nothingUnder('bigtx');
  });

  it('names the op and field of a wrong verb, type or key, writing nothing', async function () {
    const cases: [unknown, string][] = [
      [
        { Verb: 'explode', Key: 'f/a' },
        'Failed to parse body: ops[1].KV.Verb: unknown KV verb "explode"',
      ],
      [
        { Verb: 'set', Key: 'f/a', Flags: '1' },
        'Failed to parse body: ops[1].KV.Flags: must be an integer from 0 to 2^53-1',
      ],
      [
        { Verb: 'cas', Key: 'f/a', Index: -1 },
        'Failed to parse body: ops[1].KV.Index: must be an integer from 0 to 2^53-1',
      ],
      [
        { Verb: 'set', Key: 'f/a', Value: 'not base64!' },
        'Failed to parse body: ops[1].KV.Value: failed to decode value: not valid base64',
      ],
      [{ Verb: 'set', Key: 5 }, 'Failed to parse body: ops[1].KV.Key: must be a string'],
      [{ Verb: 'set' }, 'Failed to parse body: ops[1].KV.Key: Must provide key'],
      [{ Verb: 'set', Key: 'f//a' }, 'ops[1].KV.Key has an empty segment ("//")'],
      [{ Verb: 'lock', Key: 'f/a' }, 'Failed to parse body: ops[1].KV.Session: missing session'],
      [
        { Verb: 'lock', Key: 'f/a', Session: 'abc' },
        'Failed to parse body: ops[1].KV.Session: invalid session "abc"',
      ],
    ];
    for (const [kv, text] of cases) {
      expect(await refused([set('f/first'), { KV: kv }], 400)).to.equal(text);
    }
    await nothingUnder('f');
  });

  it('says that Node, Service and Check operations are not supported yet', async function () {
    expect(await refused([{ Node: { Verb: 'get', Node: { Node: 'n1' } } }], 400)).to.equal(
      'ops[0]: Node operations are not supported yet; only KV operations are',
    );
    expect(await refused([set('other/a'), { Service: { Verb: 'get' } }], 400)).to.equal(
      'ops[1]: Service operations are not supported yet; only KV operations are',
    );
    await nothingUnder('other');
  });

  it('refuses a transaction that needs more than 64 store operations', async function () {
    const checks = Array.from({ length: 40 }, (_, i) => ({
      KV: { Verb: 'check-index', Key: `exp/${i}`, Index: 1 },
    }));
    const text = await refused([set('exp/x'), ...checks], 413);
    expect(text).to.match(/^Transaction needs 81 store operations, more than 64/);
    await nothingUnder('exp');
  });

  it('answers 405 for a method other than PUT', async function () {
    for (const method of ['GET', 'POST', 'DELETE']) {
      const res = await fetch(`${env.zone.url}/v1/txn`, { method });
      expect(res.status).to.equal(405);
    }
  });
});

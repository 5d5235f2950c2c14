/**
 * `/api/kv`: global KV on the global's HTTP API, against a real global (HTTP listener,
 * store on both backends).
 */
import { expect } from 'chai';
import { MAX_VALUE_BYTES } from '../../../core/index.ts';
import { TEST_ADMIN_TOKEN, forEachGlobalBackend } from '../../helpers/global.ts';

interface EntryView {
  key: string;
  value: string;
  flags: number;
  createIndex: number;
  modifyIndex: number;
}

interface ErrorView {
  error: { code: string; message: string; field?: string };
}

forEachGlobalBackend(
  'global KV API',
  { dev: false, kvGlobalPrefixes: ['config/shared/', 'global/'] },
  (env) => {
    /** A request with the admin token and a raw body. */
    function kv(
      method: string,
      path: string,
      body?: string | Buffer | ReadableStream<Uint8Array>,
    ): Promise<Response> {
      return fetch(`${env.global.url}/api/kv/${path}`, {
        method,
        headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        ...(body === undefined ? {} : { body, duplex: 'half' }),
      });
    }

    async function ok<T>(res: Response): Promise<T> {
      const text = await res.text();
      expect(res.status, text).to.equal(200);
      return JSON.parse(text) as T;
    }

    async function refused(res: Response, status: number): Promise<ErrorView['error']> {
      const text = await res.text();
      expect(res.status, text).to.equal(status);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      return (JSON.parse(text) as ErrorView).error;
    }

    async function storedKeys(): Promise<string[]> {
      return (await env.global.global.store.list('kv/')).entries.map((e) => e.key);
    }

    afterEach(async function () {
      await env.global.global.store.delete('kv/', { recurse: true });
    });

    it('PUTs a raw value and GETs it back with flags and indexes', async function () {
      const put = await ok<{ ok: boolean; index: number }>(
        await kv('PUT', 'global/app/db?flags=42', 'postgres://db:5432'),
      );
      expect(put.ok).to.equal(true);
      const res = await kv('GET', 'global/app/db');
      const entry = await ok<EntryView>(res);
      expect(entry).to.deep.equal({
        key: 'global/app/db',
        value: Buffer.from('postgres://db:5432').toString('base64'),
        flags: 42,
        createIndex: put.index,
        modifyIndex: put.index,
      });
      expect(Number(res.headers.get('x-causeway-index'))).to.be.at.least(put.index);
      // The store holds it where a zone keeps KV.
      expect((await env.global.global.store.get('kv/global/app/db'))?.value.toString()).to.equal(
        'postgres://db:5432',
      );
      // An empty body is an empty value; a key sent with %2F is the same key.
      await ok(await kv('PUT', 'config%2Fshared%2Fempty', ''));
      expect((await ok<EntryView>(await kv('GET', 'config/shared/empty'))).value).to.equal('');
    });

    it('lists with ?recurse and ?keys, only global keys', async function () {
      await ok(await kv('PUT', 'global/a', '1'));
      await ok(await kv('PUT', 'global/b/c', '2'));
      await ok(await kv('PUT', 'config/shared/d', '3'));
      // Left in the store from a prefix that is no longer global: not global KV.
      await env.global.global.store.put('kv/old/x', Buffer.from('4'));
      expect(await ok<string[]>(await kv('GET', '?keys'))).to.deep.equal([
        'config/shared/d',
        'global/a',
        'global/b/c',
      ]);
      const tree = await ok<EntryView[]>(await kv('GET', 'global/?recurse'));
      expect(tree.map((e) => [e.key, Buffer.from(e.value, 'base64').toString()])).to.deep.equal([
        ['global/a', '1'],
        ['global/b/c', '2'],
      ]);
      expect(await ok<string[]>(await kv('GET', 'global/none/?keys'))).to.deep.equal([]);
    });

    it('check-and-sets: a stale index answers ok false and changes nothing', async function () {
      const first = await ok<{ ok: boolean; index: number }>(
        await kv('PUT', 'global/cas?cas=0', 'a'),
      );
      expect(first.ok).to.equal(true);
      expect(await ok(await kv('PUT', 'global/cas?cas=0', 'b'))).to.deep.equal({
        ok: false,
        index: 0,
      });
      expect(await ok(await kv('PUT', `global/cas?cas=${first.index + 1}`, 'b'))).to.deep.equal({
        ok: false,
        index: 0,
      });
      const second = await ok<{ ok: boolean; index: number }>(
        await kv('PUT', `global/cas?cas=${first.index}`, 'b'),
      );
      expect(second.ok).to.equal(true);
      expect(second.index).to.be.greaterThan(first.index);
      const entry = await ok<EntryView>(await kv('GET', 'global/cas'));
      expect(Buffer.from(entry.value, 'base64').toString()).to.equal('b');
      expect(entry.modifyIndex).to.equal(second.index);
    });

    it('DELETEs one key, with ?cas, and a tree with ?recurse', async function () {
      const a = await ok<{ index: number }>(await kv('PUT', 'global/a', '1'));
      await ok(await kv('PUT', 'global/t/1', '1'));
      await ok(await kv('PUT', 'global/t/2', '1'));
      await ok(await kv('PUT', 'config/shared/x', '1'));
      expect(await ok(await kv('DELETE', `global/a?cas=${a.index + 1}`))).to.deep.equal({
        ok: false,
        index: 0,
      });
      const deleted = await ok<{ ok: boolean; index: number }>(
        await kv('DELETE', `global/a?cas=${a.index}`),
      );
      expect(deleted.ok).to.equal(true);
      expect(deleted.index).to.be.greaterThan(a.index);
      expect((await refused(await kv('GET', 'global/a'), 404)).message).to.equal(
        'no global KV entry "global/a"',
      );
      expect((await ok<{ ok: boolean }>(await kv('DELETE', 'global/t/?recurse'))).ok).to.equal(
        true,
      );
      expect(await storedKeys()).to.deep.equal(['kv/config/shared/x']);
      expect((await ok<{ ok: boolean }>(await kv('DELETE', 'config/shared/x'))).ok).to.equal(true);
      expect(await storedKeys()).to.deep.equal([]);
    });

    it('refuses a key outside the global prefixes with 400 naming the key and prefixes', async function () {
      for (const [method, path] of [
        ['PUT', 'app/db'],
        ['GET', 'app/db'],
        ['DELETE', 'app/db'],
        ['PUT', 'global-config'],
      ] as const) {
        const error = await refused(
          await kv(method, path, method === 'PUT' ? 'v' : undefined),
          400,
        );
        expect(error.field).to.equal('key');
        expect(error.message).to.match(
          /^key "(app\/db|global-config)" is not under a global KV prefix \(config\/shared\/, global\/\)/,
        );
      }
      expect((await refused(await kv('GET', 'app/?recurse'), 400)).message).to.equal(
        'prefix "app/" holds no global KV: global KV lives under config/shared/, global/',
      );
      expect(await storedKeys()).to.deep.equal([]);
    });

    it('refuses a recursive delete reaching into a global prefix, deleting nothing', async function () {
      await ok(await kv('PUT', 'global/a', '1'));
      await ok(await kv('PUT', 'config/shared/b', '1'));
      const error = await refused(await kv('DELETE', '?recurse'), 400);
      expect(error.message).to.equal(
        'a recursive delete of "" reaches into the global KV prefixes config/shared/, global/ without lying inside one: delete each global folder separately (nothing was deleted)',
      );
      expect((await refused(await kv('DELETE', 'config/?recurse'), 400)).message).to.match(
        /reaches into the global KV prefix config\/shared\/ without/,
      );
      expect(await storedKeys()).to.have.length(2);
    });

    it('refuses bad flags, bad cas, cas with recurse and bad keys, naming them', async function () {
      const cases: [string, string, string, RegExp][] = [
        ['PUT', 'global/x?flags=-1', 'flags', /^flags must be an integer from 0 to 2\^53-1/],
        ['PUT', 'global/x?flags=abc', 'flags', /not "abc"/],
        ['PUT', 'global/x?cas=', 'cas', /^cas must be an integer/],
        ['PUT', 'global/x?flags=9007199254740992', 'flags', /2\^53-1/],
        ['DELETE', 'global/x?cas=1.5', 'cas', /^cas must be an integer/],
        ['DELETE', 'global/?recurse&cas=3', 'cas', /^cas cannot be combined with recurse/],
        ['PUT', '', 'key', /^a key is required: PUT \/api\/kv\/<key>$/],
        ['GET', '', 'key', /^a key is required/],
        ['DELETE', '', 'key', /^a key is required/],
        ['PUT', 'global//x', 'key', /empty segment/],
        ['PUT', 'global/%E0%A4%A', 'key', /bad URL escape/],
        ['PUT', `global/${'k'.repeat(1100)}`, 'key', /the limit is 1021/],
      ];
      for (const [method, path, field, message] of cases) {
        const error = await refused(
          await kv(method, path, method === 'PUT' ? 'v' : undefined),
          400,
        );
        expect(error.field, `${method} ${path}`).to.equal(field);
        expect(error.message, `${method} ${path}`).to.match(message);
      }
      expect(await storedKeys()).to.deep.equal([]);
    });

    it('refuses a value over 512 KiB with 413, sized or chunked, and writes nothing', async function () {
      const error = await refused(
        await kv('PUT', 'global/big', Buffer.alloc(MAX_VALUE_BYTES + 1, 0x61)),
        413,
      );
      expect(error).to.deep.equal({
        code: 'CW_ERR_VALUE_TOO_LARGE',
        message: `value is ${MAX_VALUE_BYTES + 1} bytes; the limit is ${MAX_VALUE_BYTES} bytes`,
        field: 'value',
      });
      const chunk = Buffer.alloc(64 * 1024, 0x62);
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent > MAX_VALUE_BYTES * 2) controller.close();
          else controller.enqueue(chunk);
          sent += chunk.length;
        },
      });
      expect((await refused(await kv('PUT', 'global/big', stream), 413)).field).to.equal('value');
      expect(await storedKeys()).to.deep.equal([]);
      // Exactly the limit is fine.
      await ok(await kv('PUT', 'global/big', Buffer.alloc(MAX_VALUE_BYTES, 0x63)));
      const entry = await ok<EntryView>(await kv('GET', 'global/big'));
      expect(Buffer.from(entry.value, 'base64').length).to.equal(MAX_VALUE_BYTES);
    });

    it('needs the admin token, and answers 405 for another method', async function () {
      const res = await fetch(`${env.global.url}/api/kv/global/x`);
      expect(res.status).to.equal(401);
      const post = await kv('POST', 'global/x', 'v');
      expect(post.status).to.equal(405);
      expect(await storedKeys()).to.deep.equal([]);
    });
  },
);

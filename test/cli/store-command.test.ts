import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { openStore } from '../../core/src/store/open-store.ts';
import type { Store } from '../../core/src/store/types.ts';
import { withTimeout } from '../helpers/async.ts';
import { Harness } from './harness.ts';
import type { HarnessOptions } from './harness.ts';

describe('cli/store-command', function () {
  let store: Store;

  beforeEach(async function () {
    store = await openStore('memory', {});
  });

  afterEach(async function () {
    await store.close();
  });

  /** Run one command against the shared store. */
  async function cli(args: string[], options: HarnessOptions = {}) {
    const h = new Harness(store, options);
    const code = await h.run(...args);
    return { code, out: h.stdout, err: h.stderr.text, h };
  }

  describe('get and put', function () {
    it('writes a key and prints its value raw', async function () {
      const put = await cli(['store', 'put', 'config/db', 'postgres://db:5432']);
      expect(put).to.include({ code: 0, err: '' });
      expect(put.out.text).to.equal('wrote "config/db" at index 1\n');
      const get = await cli(['store', 'get', 'config/db']);
      expect(get.code).to.equal(0);
      expect(get.out.text).to.equal('postgres://db:5432');
    });

    it('round-trips bytes exactly and adds a newline only on a terminal', async function () {
      await store.put('bin', Buffer.from([0, 255, 10, 13]));
      const h = new Harness(store);
      expect(await h.run('store', 'get', 'bin')).to.equal(0);
      expect(h.stdout.bytes).to.deep.equal(Buffer.from([0, 255, 10, 13]));

      await store.put('text', Buffer.from('no newline'));
      const tty = new Harness(store);
      tty.stdout.isTTY = true;
      await tty.run('store', 'get', 'text');
      expect(tty.stdout.text).to.equal('no newline\n');
    });

    it('prints the whole entry as JSON with --json', async function () {
      await cli(['store', 'put', 'k', 'v', '--flags', '42']);
      const { code, out } = await cli(['store', 'get', 'k', '--json']);
      expect(code).to.equal(0);
      expect(JSON.parse(out.text)).to.deep.equal({
        key: 'k',
        value: Buffer.from('v').toString('base64'),
        flags: 42,
        createIndex: 1,
        modifyIndex: 1,
        lockIndex: 0,
      });
    });

    it('answers a missing key with CW_ERR_NOT_FOUND and exit 1', async function () {
      const { code, out, err } = await cli(['store', 'get', 'nope']);
      expect(code).to.equal(1);
      expect(out.text).to.equal('');
      expect(err).to.equal('error: key "nope" not found (CW_ERR_NOT_FOUND)\n');
    });

    it('reads the value from stdin with "-" and from a file with "@path"', async function () {
      expect((await cli(['store', 'put', 'a', '-'], { stdin: 'from stdin' })).code).to.equal(0);
      const dir = mkdtempSync(join(tmpdir(), 'causeway-cli-'));
      try {
        writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\n');
        expect((await cli(['store', 'put', 'b', `@${join(dir, 'ca.pem')}`])).code).to.equal(0);
        const missing = await cli(['store', 'put', 'c', `@${join(dir, 'missing')}`]);
        expect(missing.code).to.equal(1);
        expect(missing.err).to.match(/^error: ENOENT: .* \(ENOENT\)\n$/);
      } finally {
        rmSync(dir, { recursive: true });
      }
      expect((await store.get('a'))?.value.toString()).to.equal('from stdin');
      expect((await store.get('b'))?.value.toString()).to.equal('-----BEGIN CERTIFICATE-----\n');
    });

    it('honours --cas and explains a failed check-and-set', async function () {
      expect((await cli(['store', 'put', 'k', 'v1', '--cas', '0'])).code).to.equal(0);
      const exists = await cli(['store', 'put', 'k', 'v2', '--cas', '0']);
      expect(exists.code).to.equal(1);
      expect(exists.err).to.equal(
        'error: check-and-set failed: "k" already exists (modifyIndex 1) (CW_ERR_CONFLICT)\n',
      );
      const stale = await cli(['store', 'put', 'k', 'v2', '--cas', '7']);
      expect(stale.err).to.equal(
        'error: check-and-set failed: "k" is at modifyIndex 1, not 7 (CW_ERR_CONFLICT)\n',
      );
      const gone = await cli(['store', 'put', 'other', 'v', '--cas', '3']);
      expect(gone.err).to.equal(
        'error: check-and-set failed: "other" does not exist (CW_ERR_CONFLICT)\n',
      );
      expect((await cli(['store', 'put', 'k', 'v2', '--cas', '1'])).out.text).to.equal(
        'wrote "k" at index 2\n',
      );
    });

    it('refuses bad numbers and keys as usage errors (exit 2) without touching the store', async function () {
      const flags = await cli(['store', 'put', 'k', 'v', '--flags', '-1']);
      expect(flags.code).to.equal(2);
      expect(flags.err).to.match(
        /^error: --flags must be a whole number from 0 to \d+, got -1 \(CW_ERR_CONFIG\)/,
      );
      const cas = await cli(['store', 'put', 'k', 'v', '--cas', 'abc']);
      expect(cas.code).to.equal(2);
      expect(cas.err).to.include('--cas must be a whole number, got "abc"');
      const key = await cli(['store', 'put', '/k', 'v']);
      expect(key.code).to.equal(2);
      expect(key.err).to.equal('error: key must not start with "/" (CW_ERR_INVALID_KEY)\n');
      expect(await store.currentIndex()).to.equal(0);
    });
  });

  describe('list', function () {
    beforeEach(async function () {
      for (const key of ['app/a', 'app/b/c', 'app/b/d', 'other'])
        await store.put(key, Buffer.from(key));
    });

    it('lists every key, or the keys under a prefix', async function () {
      expect((await cli(['store', 'list'])).out.lines).to.deep.equal([
        'app/a',
        'app/b/c',
        'app/b/d',
        'other',
      ]);
      expect((await cli(['store', 'list', 'app/b/'])).out.lines).to.deep.equal([
        'app/b/c',
        'app/b/d',
      ]);
      expect((await cli(['store', 'list', 'zzz'])).out.text).to.equal('');
    });

    it('rolls keys up into folders with --separator', async function () {
      const { out } = await cli(['store', 'list', 'app/', '--separator', '/']);
      expect(out.lines).to.deep.equal(['app/a', 'app/b/']);
    });

    it('prints entries and folders as JSON with --json', async function () {
      const { out } = await cli(['store', 'list', 'app/', '--separator', '/', '--json']);
      const json = JSON.parse(out.text) as {
        index: number;
        entries: { key: string; value: string }[];
        prefixes: string[];
      };
      expect(json.index).to.equal(4);
      expect(json.entries.map((e) => e.key)).to.deep.equal(['app/a']);
      expect(Buffer.from(json.entries[0]!.value, 'base64').toString()).to.equal('app/a');
      expect(json.prefixes).to.deep.equal(['app/b/']);
    });
  });

  describe('delete', function () {
    beforeEach(async function () {
      for (const key of ['app/a', 'app/b', 'keep']) await store.put(key, Buffer.from('x'));
    });

    it('deletes one key, or a prefix with --recurse', async function () {
      expect((await cli(['store', 'delete', 'keep'])).out.text).to.equal('deleted 1 key\n');
      expect((await cli(['store', 'delete', 'app/', '--recurse'])).out.text).to.equal(
        'deleted 2 keys\n',
      );
      expect((await cli(['store', 'delete', 'missing'])).out.text).to.equal('deleted 0 keys\n');
      expect((await store.list('')).entries).to.deep.equal([]);
    });

    it('honours --cas', async function () {
      const stale = await cli(['store', 'delete', 'keep', '--cas', '1']);
      expect(stale.code).to.equal(1);
      expect(stale.err).to.equal(
        'error: check-and-set failed: "keep" is no longer at modifyIndex 1 (CW_ERR_CONFLICT)\n',
      );
      expect((await cli(['store', 'delete', 'keep', '--cas', '3'])).code).to.equal(0);
      expect(await store.get('keep')).to.equal(null);
    });
  });

  describe('info', function () {
    it('prints the kind, the current index and where the store lives', async function () {
      await store.put('k', Buffer.from('v'));
      const { out, h } = await cli(['store', 'info', '--data-dir', '/var/lib/causeway']);
      expect(out.lines).to.deep.equal([
        'kind: embedded',
        'index: 1',
        'location: /var/lib/causeway',
      ]);
      expect(h.closed, 'the store is closed after the command').to.equal(1);
    });

    it('hides the password of a store URL', async function () {
      const { out } = await cli([
        'store',
        'info',
        '--json',
        '--store',
        'redis://cw:s3cret@redis:6379',
      ]);
      expect(JSON.parse(out.text)).to.deep.equal({
        kind: 'embedded',
        index: 0,
        location: 'redis://cw:[redacted]@redis:6379',
      });
    });
  });

  describe('choosing the store', function () {
    it('defaults to the embedded store in ./data', async function () {
      const { h } = await cli(['store', 'info']);
      expect(h.opened).to.have.length(1);
      expect(h.opened[0]!.url).to.equal(undefined);
      expect(h.opened[0]!.options.dataDir).to.equal(resolve('data'));
    });

    it('takes CAUSEWAY_STORE and CAUSEWAY_DATA_DIR, and flags over them', async function () {
      const env = { CAUSEWAY_STORE: 'redis://env:6379', CAUSEWAY_DATA_DIR: '/env/data' };
      const fromEnv = await cli(['store', 'info'], { env });
      expect(fromEnv.h.opened[0]).to.deep.include({ url: 'redis://env:6379' });
      expect(fromEnv.h.opened[0]!.options.dataDir).to.equal('/env/data');
      const fromFlags = await cli(
        ['store', '--store', 'memory', 'info', '--data-dir', '/flag/data'],
        { env },
      );
      expect(fromFlags.h.opened[0]!.url).to.equal('memory');
      expect(fromFlags.h.opened[0]!.options.dataDir).to.equal('/flag/data');
      expect(fromFlags.out.lines).to.include('location: memory (not persisted)');
    });

    it('hands the store a logger at the CLI log level', async function () {
      const { h } = await cli(['--log-level', 'debug', 'store', 'info']);
      const logger = h.opened[0]!.options.logger as { level?: string } | undefined;
      expect(logger?.level).to.equal('debug');
    });
  });

  describe('watch', function () {
    it('prints one JSON line per change until SIGINT, then exits 0', async function () {
      await store.put('app/old', Buffer.from('before'));
      const h = new Harness(store);
      const run = h.run('store', 'watch', 'app/');
      await withTimeout(
        (async () => {
          while (!h.signals.listening) await sleep(2);
        })(),
        2000,
        'watch to start',
      );
      await sleep(20);
      await store.put('app/new', Buffer.from('v'), { flags: 3 });
      await store.put('elsewhere', Buffer.from('ignored'));
      await store.delete('app/old');
      while (h.stdout.lines.length < 2) await sleep(2);
      h.signals.send('SIGINT');
      expect(await withTimeout(run, 2000, 'watch to end')).to.equal(0);
      expect(h.signals.installed).to.deep.equal(['SIGINT', 'SIGTERM']);
      expect(h.stdout.lines.map((l) => JSON.parse(l) as unknown)).to.deep.equal([
        {
          type: 'change',
          index: 2,
          changes: [
            {
              op: 'put',
              key: 'app/new',
              value: Buffer.from('v').toString('base64'),
              flags: 3,
              createIndex: 2,
              modifyIndex: 2,
              lockIndex: 0,
            },
          ],
        },
        { type: 'change', index: 4, changes: [{ op: 'delete', key: 'app/old' }] },
      ]);
      expect(h.stderr.text).to.match(/^note: this command opened the embedded store itself/);
      expect(h.closed).to.equal(1);
    });

    it('replays from --from-index', async function () {
      await store.put('a', Buffer.from('1'));
      await store.put('b', Buffer.from('2'));
      const h = new Harness(store);
      const run = h.run('store', 'watch', '--from-index', '1');
      while (h.stdout.lines.length < 1) await sleep(2);
      h.signals.send('SIGTERM');
      expect(await withTimeout(run, 2000, 'watch to end')).to.equal(0);
      const events = h.stdout.lines.map((l) => JSON.parse(l) as { index: number });
      expect(events.map((e) => e.index)).to.deep.equal([2]);
    });
  });
});

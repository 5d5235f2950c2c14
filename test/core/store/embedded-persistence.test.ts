/**
 * Durability of the embedded store: restarts, torn and corrupt logs, compaction and group
 * commit, against real files in a temp directory.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import {
  cp,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  stat,
  symlink,
  truncate,
  utimes,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { ClosedError, ConfigError, StoreUnavailableError } from '../../../core/src/errors.ts';
import { EMPTY_LOCK_GRACE_MS } from '../../../core/src/store/embedded/dir-lock.ts';
import { openEmbeddedStore } from '../../../core/src/store/embedded/embedded-store.ts';
import type { EmbeddedStore } from '../../../core/src/store/embedded/embedded-store.ts';
import type { Entry } from '../../../core/src/store/types.ts';
import { drain } from '../../helpers/async.ts';
import { recordRanges, useDataDir } from './embedded-data-dir.ts';
import { openFailure } from '../../../core/src/store/embedded/io-errors.ts';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

function view(e: Entry): string {
  const session = e.session === undefined ? '' : ` session=${e.session}`;
  return (
    `${e.key}=${e.value.toString('hex')} flags=${e.flags} create=${e.createIndex} ` +
    `modify=${e.modifyIndex} lock=${e.lockIndex}${session}`
  );
}

/** Everything a restart must preserve: every entry with its metadata, and the index. */
async function contents(store: EmbeddedStore): Promise<{ index: number; entries: string[] }> {
  const { entries, index } = await store.list('');
  return { index, entries: entries.map(view) };
}

/** A pid no process has: one of a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('embedded store persistence', function () {
  const data = useDataDir('causeway-embedded-');
  const { open, logFiles, newestLog, keysAfterReopen } = data;

  /** The pids named in the data directory's lock. */
  async function lockOwners(): Promise<number[]> {
    const names = await readdir(path.join(data.dir, 'LOCK'));
    return names.map((n) => Number(/^pid-(\d+)-/.exec(n)?.[1]));
  }

  describe('restart', function () {
    it('keeps every acknowledged put, delete and transaction, and the index', async function () {
      const store = await open();
      await store.put('a', b('1'), { flags: 7 });
      await store.put('lock', b('l'), { session: 's1', lockIndex: 2 });
      await store.put('gone', b('x'));
      await store.delete('gone');
      await store.put('tree/1', b('t1'));
      await store.put('tree/2', b('t2'));
      const txn = await store.txn([
        { op: 'set', key: 'b', value: b('2') },
        { op: 'delete-tree', key: 'tree/' },
        { op: 'cas', key: 'a', value: b('1b'), index: 1 },
      ]);
      expect(txn.ok).to.equal(true);
      await store.put('a', Buffer.from([0, 255, 10, 13]), { cas: 7 });
      await store.put('gone', b('again'));
      const before = await contents(store);
      await store.close();

      const reopened = await open();
      expect(await contents(reopened)).to.deep.equal(before);
      expect(await reopened.currentIndex()).to.equal(9);
      expect((await reopened.get('gone'))!.createIndex).to.equal(9);
      const next = await reopened.put('c', b('3'));
      expect(next.ok && next.entry.modifyIndex).to.equal(10);
    });

    it('keeps the index of a store whose keys were all deleted', async function () {
      const store = await open();
      await store.put('a', b('1'));
      await store.put('b', b('2'));
      await store.delete('', { recurse: true });
      await store.close();
      const reopened = await open();
      expect(await reopened.currentIndex()).to.equal(3);
      expect((await reopened.list('')).entries).to.deep.equal([]);
    });

    it('resyncs a watch from before the restart and serves one from the restart index', async function () {
      const store = await open();
      await store.put('k', b('1'));
      await store.put('k', b('2'));
      await store.close();
      const reopened = await open();
      const old = await drain(reopened.watch('k', 1), 2000);
      expect(old.map((e) => e.type)).to.deep.equal(['resync']);
      const live = reopened.watch('k', 2);
      await reopened.put('k', b('3'));
      const next = await live.next();
      expect(next.done !== true && next.value.index).to.equal(3);
      await live.return?.();
    });
  });

  describe('compaction', function () {
    it('keeps everything across compactions and a restart', async function () {
      const store = await open({ compactAfterBytes: 4096 });
      for (let i = 0; i < 300; i++) {
        await store.put(`k/${i % 50}`, Buffer.alloc(40, i), { flags: i });
        if (i % 7 === 0) await store.delete(`k/${(i * 3) % 50}`);
        if (i % 11 === 0) {
          await store.txn([
            { op: 'set', key: `t/${i}`, value: b(String(i)) },
            { op: 'delete', key: `t/${i - 11}` },
          ]);
        }
      }
      expect(store.stats().log!.snapshots).to.be.greaterThan(0);
      const before = await contents(store);
      await store.close();

      const files = await readdir(data.dir);
      expect(files.filter((n) => n.endsWith('.snap'))).to.have.length(1);
      expect(files.filter((n) => n.endsWith('.log')).length).to.be.at.most(2);
      const reopened = await open({ compactAfterBytes: 4096 });
      expect(await contents(reopened)).to.deep.equal(before);
    });

    it('keeps every concurrent write made while compactions run', async function () {
      const store = await open({ compactAfterBytes: 2048 });
      const waves: Promise<unknown>[] = [];
      // Each wave is issued before the previous one is durable, so segments roll while
      // records are still queued.
      for (let wave = 0; wave < 40; wave++) {
        const puts = Array.from({ length: 10 }, (_, i) =>
          store.put(`c/${wave}/${i}`, Buffer.alloc(64, i)),
        );
        waves.push(Promise.all(puts));
        if (wave > 0) await waves[wave - 1];
      }
      await Promise.all(waves);
      const stats = store.stats().log!;
      expect(stats.snapshots).to.be.greaterThan(1);
      expect(stats.flushes).to.be.greaterThan(1);
      const before = await contents(store);
      expect(before.index).to.equal(400);
      await store.close();
      const reopened = await open();
      expect(await contents(reopened)).to.deep.equal(before);
    });

    it('skips log records a snapshot taken while they were queued already covers', async function () {
      const store = await open();
      await store.put('a', b('1'));
      const queued = store.put('b', b('2'));
      // The snapshot captures b (index 2) while its record is still queued for the new log.
      await Promise.all([store.compact(), queued]);
      await store.close();
      expect(await logFiles()).to.deep.equal([`log-${'1'.padStart(16, '0')}.log`]);
      const reopened = await open();
      expect(await reopened.currentIndex()).to.equal(2);
      await reopened.put('c', b('3'));
      await reopened.close();
      expect(await keysAfterReopen()).to.deep.equal(['a', 'b', 'c']);
    });

    it('drops a torn record the snapshot covers and starts a fresh segment', async function () {
      const store = await open();
      await store.put('a', b('1'));
      const queued = store.put('b', b('2'));
      await Promise.all([store.compact(), queued]);
      await store.close();
      const log = await newestLog();
      await truncate(log, (await stat(log)).size - 2);
      const reopened = await open();
      expect(await reopened.currentIndex()).to.equal(2);
      expect(await logFiles()).to.deep.equal([`log-${'2'.padStart(16, '0')}.log`]);
      await reopened.put('c', b('3'));
      await reopened.close();
      expect(await keysAfterReopen()).to.deep.equal(['a', 'b', 'c']);
      expect(data.warnings).to.have.length(1);
    });

    it('writes a snapshot on demand and starts a new log segment', async function () {
      const store = await open();
      for (let i = 0; i < 10; i++) await store.put(`k${i}`, b('v'));
      await store.compact();
      expect(await logFiles()).to.deep.equal([`log-${'10'.padStart(16, '0')}.log`]);
      await store.put('after', b('a'));
      await store.close();
      const reopened = await open();
      expect(await reopened.currentIndex()).to.equal(11);
      expect((await reopened.list('')).entries).to.have.length(11);
    });

    it('recovers if the process died after starting a new log but before the snapshot', async function () {
      const store = await open();
      for (let i = 0; i < 10; i++) await store.put(`k${i}`, b('v'));
      await store.close();
      const saved = await mkdtemp(path.join(os.tmpdir(), 'causeway-embedded-saved-'));
      try {
        await cp(data.dir, saved, { recursive: true });
        const again = await open();
        await again.compact();
        for (let i = 10; i < 15; i++) await again.put(`k${i}`, b('v'));
        const expected = await contents(again);
        await again.close();
        // Rewind to the moment between the two steps: old log back, new snapshot gone.
        for (const n of await readdir(data.dir))
          if (n.endsWith('.snap')) await rm(path.join(data.dir, n));
        await cp(saved, data.dir, { recursive: true });
        const recovered = await open();
        expect(await contents(recovered)).to.deep.equal(expected);
      } finally {
        await rm(saved, { recursive: true, force: true });
      }
    });

    it('ignores and removes leftovers of an interrupted snapshot and stale segments', async function () {
      const store = await open();
      for (let i = 0; i < 5; i++) await store.put(`k${i}`, b('v'));
      const oldLog = await readFile(await newestLog());
      await store.compact();
      await store.put('k5', b('v'));
      await store.close();
      await writeFile(path.join(data.dir, `snapshot-${'9'.padStart(16, '0')}.snap.tmp`), 'half');
      await writeFile(path.join(data.dir, `log-${'0'.padStart(16, '0')}.log`), oldLog);
      const reopened = await open();
      expect(await reopened.currentIndex()).to.equal(6);
      expect((await readdir(data.dir)).filter((n) => n !== 'LOCK')).to.have.length(2);
    });
  });

  describe('group commit', function () {
    it('writes concurrent puts together, and every one is durable', async function () {
      const store = await open();
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => store.put(`g/${i}`, b(String(i)))),
      );
      expect(results.every((r) => r.ok)).to.equal(true);
      const stats = store.stats().log!;
      expect(stats.records).to.equal(100);
      expect(stats.flushes).to.be.at.most(5);
      // The puts resolved, so their records must be in the file already, before any close.
      const onDisk = recordRanges(await readFile(await newestLog()));
      expect(onDisk).to.have.length(100);
    });
  });

  describe('data directory lock', function () {
    it('refuses a second open of a data directory that is in use', async function () {
      await open();
      const err = await openEmbeddedStore({ dataDir: data.dir }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).message).to.match(/already open/);
    });

    it('releases the directory on close', async function () {
      const first = await open();
      await first.close();
      const second = await open();
      expect(await second.currentIndex()).to.equal(0);
    });

    it('refuses a directory locked by another live process', async function () {
      await writeFile(path.join(data.dir, 'LOCK'), `${process.ppid}\n`);
      const err = await openEmbeddedStore({ dataDir: data.dir }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).message).to.match(new RegExp(`process ${process.ppid}`));
    });

    it('takes over an earlier-format lock file left by a process that died', async function () {
      await writeFile(path.join(data.dir, 'LOCK'), `${await deadPid()}\n`);
      const store = await open();
      await store.put('k', b('v'));
      expect(await lockOwners()).to.deep.equal([process.pid]);
      expect(data.warnings.map((w) => w.msg)).to.deep.equal([
        'embedded store took over a stale lock file',
      ]);
    });

    it('takes over a lock directory whose owner died, removing its leftovers', async function () {
      const pid = await deadPid();
      await mkdir(path.join(data.dir, 'LOCK'));
      await writeFile(path.join(data.dir, 'LOCK', `pid-${pid}-0123456789abcdef`), '');
      await mkdir(path.join(data.dir, `LOCK.${pid}.fedcba9876543210.new`));
      await open();
      expect(await lockOwners()).to.deep.equal([process.pid]);
      expect((await readdir(data.dir)).filter((n) => n.startsWith('LOCK'))).to.deep.equal(['LOCK']);
      expect(data.warnings.map((w) => w.msg)).to.deep.equal([
        'embedded store took over the lock of a process that is gone',
      ]);
    });

    it('refuses a lock directory owned by another live process', async function () {
      await mkdir(path.join(data.dir, 'LOCK'));
      await writeFile(path.join(data.dir, 'LOCK', `pid-${process.ppid}-0123456789abcdef`), '');
      const err = await openEmbeddedStore({ dataDir: data.dir }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).message).to.match(new RegExp(`process ${process.ppid}`));
      expect((await readdir(data.dir)).filter((n) => n.startsWith('LOCK'))).to.deep.equal(['LOCK']);
    });

    it('refuses a fresh empty lock file, and takes over one left for longer', async function () {
      const lock = path.join(data.dir, 'LOCK');
      await writeFile(lock, '');
      const err = await openEmbeddedStore({ dataDir: data.dir }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).message).to.match(/empty lock file/);
      expect((await stat(lock)).isFile()).to.equal(true);
      const old = new Date(Date.now() - EMPTY_LOCK_GRACE_MS - 1000);
      await utimes(lock, old, old);
      await open();
      expect(await lockOwners()).to.deep.equal([process.pid]);
      expect(data.warnings).to.have.length(1);
    });

    it('refuses a lock it did not write, however old', async function () {
      const old = new Date(Date.now() - 3_600_000);
      await writeFile(path.join(data.dir, 'LOCK'), 'not a pid\n');
      await utimes(path.join(data.dir, 'LOCK'), old, old);
      const err = await openEmbeddedStore({ dataDir: data.dir }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).message).to.match(/no Causeway store wrote/);
      await rm(path.join(data.dir, 'LOCK'));
      await mkdir(path.join(data.dir, 'LOCK'));
      await writeFile(path.join(data.dir, 'LOCK', 'something-else'), '');
      const err2 = await openEmbeddedStore({ dataDir: data.dir }).catch((e: unknown) => e);
      expect(err2).to.be.instanceOf(ConfigError);
      expect((err2 as ConfigError).message).to.match(/no Causeway store wrote/);
    });

    it('releases only its own lock, not one that was taken over', async function () {
      const store = await open();
      const lock = path.join(data.dir, 'LOCK');
      for (const name of await readdir(lock)) await rm(path.join(lock, name));
      const other = `pid-${process.ppid}-0123456789abcdef`;
      await writeFile(path.join(lock, other), '');
      await store.close();
      expect(await readdir(lock)).to.deep.equal([other]);
    });

    it('refuses a second open in this process through another path to the directory', async function () {
      await open();
      const link = `${data.dir}-link`;
      await symlink(data.dir, link);
      try {
        const err = await openEmbeddedStore({ dataDir: link }).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(ConfigError);
        expect((err as ConfigError).message).to.match(/already open/);
      } finally {
        await rm(link);
      }
    });
  });

  describe('a failed log write', function () {
    it('fails the write and every later call with StoreUnavailableError, and resyncs watches', async function () {
      const store = await open();
      await store.put('a', b('1'));
      const watch = store.watch('', 1);
      // Pull the file out from under the writer (reaching into internals on purpose: there
      // is no portable way to make a real disk fail), so the next write gets EBADF.
      const internals = store as unknown as { log: { log: { fh: FileHandle } } };
      await internals.log.log.fh.close();
      const err = await store.put('b', b('2')).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(StoreUnavailableError);
      expect((err as StoreUnavailableError).isRetryable()).to.equal(true);
      const later = await store.get('a').catch((e: unknown) => e);
      expect(later).to.be.instanceOf(StoreUnavailableError);
      const events = await drain(watch, 2000);
      expect(events.map((e) => e.type)).to.deep.equal(['resync']);
      await store.close();
      const reopened = await open();
      expect(await reopened.currentIndex()).to.equal(1);
    });
  });

  describe('typed errors', function () {
    it('refuses a data directory path that is a file with ConfigError naming it', async function () {
      const file = path.join(data.dir, 'a-file');
      await writeFile(file, 'x');
      for (const dataDir of [file, path.join(file, 'below')]) {
        const err = await openEmbeddedStore({ dataDir }).catch((e: unknown) => e);
        expect(err, dataDir).to.be.instanceOf(ConfigError);
        expect((err as ConfigError).field).to.equal('dataDir');
        expect((err as ConfigError).message).to.include(dataDir);
      }
    });

    it('maps a permission error on open to ConfigError naming the directory', function () {
      // Root ignores permission bits, so the mapping is checked on the error itself.
      const denied = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
      const err = openFailure(denied, '/srv/causeway');
      expect(err).to.be.instanceOf(ConfigError);
      expect(err.field).to.equal('dataDir');
      expect(err.message).to.include('/srv/causeway');
    });

    it('rejects a compaction that cannot write its snapshot with StoreUnavailableError', async function () {
      const store = await open();
      await store.put('a', b('1'));
      const blocker = path.join(data.dir, `snapshot-${'1'.padStart(16, '0')}.snap.tmp`);
      await mkdir(blocker);
      const err = await store.compact().catch((e: unknown) => e);
      expect(err).to.be.instanceOf(StoreUnavailableError);
      expect((err as StoreUnavailableError).message).to.include(data.dir);
      // Only the snapshot failed: the log is intact and the store keeps serving.
      await rm(blocker, { recursive: true });
      await store.put('b', b('2'));
      await store.compact();
      await store.close();
      expect(await keysAfterReopen()).to.deep.equal(['a', 'b']);
    });
  });

  describe('close', function () {
    it('flushes writes still queued, then refuses calls with ClosedError', async function () {
      const store = await open();
      const pending = Array.from({ length: 10 }, (_, i) => store.put(`q/${i}`, b('v')));
      await store.close();
      expect((await Promise.all(pending)).every((r) => r.ok)).to.equal(true);
      for (const call of [store.get('q/1'), store.put('x', b('v')), store.currentIndex()]) {
        const err = await call.catch((e: unknown) => e);
        expect(err).to.be.instanceOf(ClosedError);
      }
      expect(() => store.watch('', 0)).to.throw(ClosedError);
      expect(await keysAfterReopen()).to.have.length(10);
    });
  });
});

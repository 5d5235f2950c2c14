/**
 * Recovery of the embedded store from damaged files: a torn or garbled end of the log is
 * dropped (those writes were never acknowledged) and the file repaired; damage with intact
 * records after it, or in a snapshot, is refused as CorruptDataError and left untouched.
 */
import { expect } from 'chai';
import { appendFile, readFile, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CorruptDataError } from '../../../core/src/errors.ts';
import { openEmbeddedStore } from '../../../core/src/store/embedded/embedded-store.ts';
import { encodeBatch, frame } from '../../../core/src/store/embedded/record-codec.ts';
import { recordRanges, useDataDir } from './embedded-data-dir.ts';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('embedded store recovery from a damaged log', function () {
  const data = useDataDir('causeway-embedded-damage-');
  const { open, newestLog, keysAfterReopen } = data;

  /** Five single-put records, closed cleanly: the base every test damages. */
  async function fivePuts(): Promise<void> {
    const store = await open();
    for (let i = 1; i <= 5; i++) await store.put(`k${i}`, b(`v${i}`));
    await store.close();
  }

  it('drops a last record cut short and reopens with everything before it', async function () {
    await fivePuts();
    const log = await newestLog();
    const { size } = await stat(log);
    await truncate(log, size - 3);
    expect(await keysAfterReopen()).to.deep.equal(['k1', 'k2', 'k3', 'k4']);
    expect(data.warnings).to.have.length(1);
    expect(data.warnings[0]!.msg).to.match(/torn record/);
  });

  it('truncates the torn tail so later writes are appended cleanly', async function () {
    await fivePuts();
    await appendFile(await newestLog(), Buffer.from([0, 0, 0, 100, 1, 2, 3, 4, 1, 2, 3]));
    const store = await open();
    expect(await store.currentIndex()).to.equal(5);
    await store.put('k6', b('v6'));
    await store.close();
    expect(await keysAfterReopen()).to.deep.equal(['k1', 'k2', 'k3', 'k4', 'k5', 'k6']);
    expect(data.warnings).to.have.length(1);
  });

  it('drops a last record that is only a partial frame header', async function () {
    await fivePuts();
    await appendFile(await newestLog(), Buffer.from([0, 0]));
    expect(await keysAfterReopen()).to.have.length(5);
    expect(data.warnings).to.have.length(1);
  });

  it('drops a zero-filled tail, as a crash can leave past the end of the file', async function () {
    await fivePuts();
    await appendFile(await newestLog(), Buffer.alloc(4096));
    expect(await keysAfterReopen()).to.have.length(5);
    expect(data.warnings).to.have.length(1);
  });

  it('drops a last record whose CRC does not match', async function () {
    await fivePuts();
    const log = await newestLog();
    const buf = await readFile(log);
    const last = recordRanges(buf).at(-1)!;
    buf[last.end - 1]! ^= 0xff;
    await writeFile(log, buf);
    expect(await keysAfterReopen()).to.deep.equal(['k1', 'k2', 'k3', 'k4']);
    expect(data.warnings).to.have.length(1);
    expect((await stat(log)).size).to.equal(last.start);
  });

  it('refuses to open when a record in the middle fails its CRC', async function () {
    await fivePuts();
    const log = await newestLog();
    const buf = await readFile(log);
    const second = recordRanges(buf)[1]!;
    buf[second.end - 1]! ^= 0x01;
    await writeFile(log, buf);
    const err = await openEmbeddedStore({ dataDir: data.dir }).then(
      () => expect.fail('expected the open to fail'),
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(CorruptDataError);
    expect((err as CorruptDataError).code).to.equal('CW_ERR_CORRUPT_DATA');
    // Nothing was truncated: the damage is left for an operator to inspect.
    expect((await readFile(log)).equals(buf)).to.equal(true);
  });

  it('refuses to open when a middle record has a damaged length', async function () {
    await fivePuts();
    const log = await newestLog();
    const buf = await readFile(log);
    const third = recordRanges(buf)[2]!;
    buf.writeUInt32BE(buf.readUInt32BE(third.start) + 1, third.start);
    await writeFile(log, buf);
    const err = await openEmbeddedStore({ dataDir: data.dir }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(CorruptDataError);
  });

  it('drops a torn last record whose value holds bytes that look like the next records', async function () {
    const store = await open();
    await store.put('a', b('first'));
    // Frames for the very indexes that would come next, inside the value of the record that
    // gets torn: they must be read as part of it, not as intact records after it.
    const fake = [3, 4, 5].map((index) =>
      frame(encodeBatch({ index, changes: [{ op: 'delete', key: 'x' }] })),
    );
    await store.put('b', Buffer.concat([...fake, Buffer.alloc(1000, 1)]));
    await store.close();
    const log = await newestLog();
    await truncate(log, (await stat(log)).size - 10);
    expect(await keysAfterReopen()).to.deep.equal(['a']);
    expect(data.warnings.map((w) => w.msg)).to.deep.equal([
      'embedded store dropped a torn record at the end of its log',
    ]);
  });

  it('refuses to open when the length of a middle record is damaged to run past the end', async function () {
    await fivePuts();
    const log = await newestLog();
    const buf = await readFile(log);
    const third = recordRanges(buf)[2]!;
    buf.writeUInt32BE(buf.readUInt32BE(third.start) + 0x01000000, third.start);
    await writeFile(log, buf);
    const err = await openEmbeddedStore({ dataDir: data.dir }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(CorruptDataError);
    expect((await readFile(log)).equals(buf)).to.equal(true);
  });

  it('drops the unfinished last flush when a power loss zeroed a record but kept the next', async function () {
    await fivePuts();
    const log = await newestLog();
    const buf = await readFile(log);
    const fourth = recordRanges(buf)[3]!;
    buf.fill(0, fourth.start, fourth.end);
    await writeFile(log, buf);
    expect(await keysAfterReopen()).to.deep.equal(['k1', 'k2', 'k3']);
    expect(data.warnings).to.have.length(1);
    expect(data.warnings[0]!.msg).to.match(/never completed/);
    expect(data.warnings[0]!.obj).to.include({ intactRecordsDropped: 1 });
    expect((await stat(log)).size).to.equal(fourth.start);
  });

  it('drops the unfinished last flush when a lost page cut through records', async function () {
    const store = await open();
    for (let i = 1; i <= 8; i++) await store.put(`k${i}`, Buffer.alloc(3000, i));
    await store.close();
    const log = await newestLog();
    const buf = await readFile(log);
    const ranges = recordRanges(buf);
    // A whole 4 KiB page, starting inside the third record, reads back as zeros.
    const page = Math.ceil((ranges[2]!.start + 100) / 4096) * 4096;
    expect(page + 4096).to.be.below(ranges.at(-1)!.start);
    buf.fill(0, page, page + 4096);
    await writeFile(log, buf);
    const kept = ranges.filter((r) => r.end <= page).length;
    expect(await keysAfterReopen()).to.deep.equal(
      Array.from({ length: kept }, (_, i) => `k${i + 1}`),
    );
    expect(data.warnings[0]!.msg).to.match(/never completed/);
  });

  it('refuses to open when only the header of a middle record is zeroed', async function () {
    await fivePuts();
    const log = await newestLog();
    const buf = await readFile(log);
    const third = recordRanges(buf)[2]!;
    buf.fill(0, third.start, third.start + 8);
    await writeFile(log, buf);
    const err = await openEmbeddedStore({ dataDir: data.dir }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(CorruptDataError);
  });

  it('refuses to open when zeros that hold no lost record sit between records', async function () {
    await fivePuts();
    const log = await newestLog();
    const buf = await readFile(log);
    const third = recordRanges(buf)[2]!;
    const gapped = Buffer.concat([
      buf.subarray(0, third.start),
      Buffer.alloc(64),
      buf.subarray(third.start),
    ]);
    await writeFile(log, gapped);
    const err = await openEmbeddedStore({ dataDir: data.dir }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(CorruptDataError);
  });

  it('refuses to open on a damaged snapshot', async function () {
    const store = await open();
    await store.put('a', b('1'));
    await store.compact();
    await store.close();
    const snap = (await readdir(data.dir)).find((n) => n.endsWith('.snap'))!;
    const buf = await readFile(path.join(data.dir, snap));
    buf[buf.length - 2]! ^= 0xff;
    await writeFile(path.join(data.dir, snap), buf);
    const err = await openEmbeddedStore({ dataDir: data.dir }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(CorruptDataError);
  });
});

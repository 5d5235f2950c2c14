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

/**
 * Kills a real child process that is writing to an embedded store (SIGKILL, no chance to
 * flush or close) and checks that every write it had been told was durable is there after
 * recovery. Covers a process crash; a power loss would also need the fsyncs, which the
 * persistence tests check by construction rather than by pulling a plug.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEmbeddedStore } from '../../../core/src/store/embedded/embedded-store.ts';
import { withTimeout } from '../../helpers/async.ts';
import { childEnv } from '../../helpers/child-env.ts';

const storeModule = fileURLToPath(
  new URL('../../../core/src/store/embedded/embedded-store.ts', import.meta.url),
);

/**
 * The child: 8 concurrent writers (so group commit is in play), each printing `key index`
 * once its put is acknowledged, plus a transaction every 25 writes.
 */
const childSource = `
const { openEmbeddedStore } = await import(${JSON.stringify(storeModule)});
const store = await openEmbeddedStore({ dataDir: process.argv[1], compactAfterBytes: 16384 });
let n = 0;
async function writer(w) {
  for (;;) {
    const i = n++;
    const key = 'w' + w + '/' + i;
    if (i % 25 === 0) {
      const r = await store.txn([
        { op: 'set', key, value: Buffer.from(String(i)) },
        { op: 'set', key: 'txn/' + i, value: Buffer.from('t') },
      ]);
      process.stdout.write(key + ' ' + r.index + '\\n');
    } else {
      const r = await store.put(key, Buffer.from(String(i)));
      process.stdout.write(key + ' ' + r.entry.modifyIndex + '\\n');
    }
  }
}
await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
`;

describe('embedded store crash recovery (child process)', function () {
  this.timeout(30_000);
  let dir: string;

  beforeEach(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'causeway-embedded-crash-'));
  });

  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  for (const round of [1, 2, 3]) {
    it(`keeps every acknowledged write after SIGKILL (round ${round})`, async function () {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', childSource, dir],
        { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const acked = new Map<string, number>();
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      let buffered = '';
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      // Kill at a different point each round, once enough writes are acknowledged.
      const target = 300 * round;
      await withTimeout(
        new Promise<void>((resolve) => {
          child.stdout.on('data', (d: Buffer) => {
            buffered += d.toString();
            const lines = buffered.split('\n');
            buffered = lines.pop()!;
            for (const line of lines) {
              const [key, index] = line.split(' ');
              acked.set(key!, Number(index));
            }
            if (acked.size >= target && child.exitCode === null) {
              child.kill('SIGKILL');
              resolve();
            }
          });
          child.on('exit', () => resolve());
        }),
        20_000,
        `the child to acknowledge ${target} writes (stderr: ${stderr})`,
      );
      await exited;
      expect(acked.size, stderr).to.be.at.least(target);

      const store = await openEmbeddedStore({ dataDir: dir });
      try {
        const maxAcked = Math.max(...acked.values());
        expect(await store.currentIndex()).to.be.at.least(maxAcked);
        for (const [key, index] of acked) {
          const entry = await store.get(key);
          expect(entry, key).to.not.equal(null);
          expect(entry!.modifyIndex).to.equal(index);
          expect(entry!.value.toString()).to.equal(key.split('/')[1]);
        }
      } finally {
        await store.close();
      }
    });
  }
});

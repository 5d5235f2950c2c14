/**
 * The data directory lock under a real race: several child processes open one data
 * directory at the same moment, and exactly one may win, whether the directory is free or
 * holds a stale lock every one of them wants to take over.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTimeout } from '../../helpers/async.ts';
import { childEnv } from '../../helpers/child-env.ts';

const storeModule = fileURLToPath(
  new URL('../../../core/src/store/embedded/embedded-store.ts', import.meta.url),
);

const OPENERS = 8;

/**
 * The child: loads the store, says READY, waits for "go" on stdin, opens the directory and
 * prints OPENED (then holds it long enough for every rival to have tried) or REFUSED <code>.
 */
const childSource = `
const { openEmbeddedStore } = await import(${JSON.stringify(storeModule)});
process.stdout.write('READY\\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
try {
  const store = await openEmbeddedStore({ dataDir: process.argv[1], fsync: false });
  process.stdout.write('OPENED\\n');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await store.close();
} catch (err) {
  process.stdout.write('REFUSED ' + (err.code ?? err.message) + '\\n');
}
process.exit(0);
`;

interface Opener {
  child: ChildProcessWithoutNullStreams;
  ready: Promise<void>;
  outcome: Promise<string>;
}

function startOpener(dir: string): Opener {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', childSource, dir],
    { env: childEnv(), stdio: 'pipe' },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const ready = new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY\n')) resolve();
    });
  });
  const outcome = new Promise<string>((resolve) => {
    child.on('exit', () => {
      const line = out.split('\n').find((l) => l.startsWith('OPENED') || l.startsWith('REFUSED'));
      resolve(line ?? `no outcome (stderr: ${err})`);
    });
  });
  return { child, ready, outcome };
}

/** A pid no process has: one of a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('embedded store data directory lock (child processes)', function () {
  this.timeout(60_000);
  let dir: string;

  beforeEach(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'causeway-embedded-lock-'));
  });

  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  const scenarios: [string, () => Promise<void>][] = [
    ['a free directory', () => Promise.resolve()],
    [
      'a directory locked by a process that died',
      async () => {
        await mkdir(path.join(dir, 'LOCK'));
        await writeFile(path.join(dir, 'LOCK', `pid-${await deadPid()}-0123456789abcdef`), '');
      },
    ],
    [
      'a directory with an earlier-format lock file of a process that died',
      async () => writeFile(path.join(dir, 'LOCK'), `${await deadPid()}\n`),
    ],
  ];

  for (const [what, prepare] of scenarios) {
    for (const round of [1, 2]) {
      it(`lets exactly one of ${OPENERS} racing processes open ${what} (round ${round})`, async function () {
        await prepare();
        const openers = Array.from({ length: OPENERS }, () => startOpener(dir));
        try {
          await withTimeout(
            Promise.all(openers.map((o) => o.ready)),
            30_000,
            'the openers to start',
          );
          for (const o of openers) o.child.stdin.write('go\n');
          const outcomes = await withTimeout(
            Promise.all(openers.map((o) => o.outcome)),
            30_000,
            'the openers to finish',
          );
          expect(
            outcomes.filter((o) => o === 'OPENED'),
            outcomes.join(', '),
          ).to.have.length(1);
          expect(
            outcomes.filter((o) => o === 'REFUSED CW_ERR_CONFIG'),
            outcomes.join(', '),
          ).to.have.length(OPENERS - 1);
        } finally {
          for (const o of openers) if (o.child.exitCode === null) o.child.kill('SIGKILL');
        }
      });
    }
  }
});

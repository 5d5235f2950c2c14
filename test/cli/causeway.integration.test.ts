/**
 * The real `causeway` executable in child processes: the bin shim, tsx registration,
 * exit codes, and a store round trip through a temporary data directory.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { withTimeout } from '../helpers/async.ts';
import { childEnv } from '../helpers/child-env.ts';

const bin = fileURLToPath(new URL('../../cli/bin/causeway.js', import.meta.url));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `causeway ...args` with only the given CAUSEWAY_* variables set. */
async function causeway(
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
): Promise<Result> {
  const clean = childEnv();
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...clean, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(stdin ?? '');
  const [code] = (await withTimeout(once(child, 'exit'), 15_000, `causeway ${args.join(' ')}`)) as [
    number | null,
  ];
  return { code, stdout, stderr };
}

describe('causeway executable (integration)', function () {
  this.timeout(30_000);

  it('prints help listing run and store', async function () {
    const { code, stdout, stderr } = await causeway(['--help']);
    expect(code).to.equal(0);
    expect(stderr).to.equal('');
    expect(stdout).to.match(/^Usage: causeway/);
    expect(stdout).to.match(/^ {2}run \[options\] <component>/m);
    expect(stdout).to.match(/^ {2}store \[options\]/m);
  });

  it('answers an unknown component with exit 2 and lists the available ones', async function () {
    const { code, stdout, stderr } = await causeway(['run', 'mesh']);
    expect(code).to.equal(2);
    expect(stdout).to.equal('');
    expect(stderr).to.include(
      'unknown component "mesh"; available components: gateway, global, proxy, zone',
    );
  });

  it('refuses `run zone` without a name, with exit 2 naming the flag', async function () {
    const { code, stderr } = await causeway(['run', 'zone']);
    expect(code).to.equal(2);
    expect(stderr).to.include('a zone needs a name (--name)');
  });

  it('runs a zone that serves its HTTP API and stops cleanly on SIGTERM', async function () {
    const child = spawn(
      process.execPath,
      [bin, 'run', 'zone', '--dev', '--name', 'east', '--http-addr', '127.0.0.1:0'],
      { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exit = once(child, 'exit');
    // The listener logs its bound address; port 0 picks a free one.
    const addr = await withTimeout(
      new Promise<string>((resolve) => {
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          const m = /"addr":"(127\.0\.0\.1:\d+)","msg":"HTTP API listening"/.exec(out);
          if (m?.[1]) resolve(m[1]);
        });
      }),
      15_000,
      'zone listening',
    );
    const res = await fetch(`http://${addr}/v1/status/leader`);
    expect(await res.json()).to.equal(addr);
    child.kill('SIGTERM');
    const [code] = (await withTimeout(exit, 15_000, 'zone exit')) as [number | null];
    expect(code).to.equal(0);
  });

  it('answers an unknown command with exit 2', async function () {
    const { code, stderr } = await causeway(['frobnicate']);
    expect(code).to.equal(2);
    expect(stderr).to.include("unknown command 'frobnicate'");
  });

  describe('store round trip in a data directory', function () {
    let dir: string;
    beforeEach(function () {
      dir = mkdtempSync(join(tmpdir(), 'causeway-cli-'));
    });
    afterEach(function () {
      rmSync(dir, { recursive: true, force: true });
    });

    it('puts, gets, lists, deletes and reports the index across processes', async function () {
      const d = ['--data-dir', dir];
      expect(await causeway(['store', 'put', 'app/db', 'postgres', ...d])).to.include({
        code: 0,
        stdout: 'wrote "app/db" at index 1\n',
      });
      expect(
        (await causeway(['store', 'put', 'app/cache/ttl', '-', ...d], {}, '60s')).code,
      ).to.equal(0);
      expect(readdirSync(dir), 'persisted to the data dir').to.not.be.empty;

      expect(await causeway(['store', 'get', 'app/db', ...d])).to.include({
        code: 0,
        stdout: 'postgres',
      });
      const entry = JSON.parse(
        (await causeway(['store', 'get', 'app/cache/ttl', '--json', ...d])).stdout,
      ) as {
        value: string;
        modifyIndex: number;
      };
      expect(Buffer.from(entry.value, 'base64').toString()).to.equal('60s');
      expect(entry.modifyIndex).to.equal(2);

      expect((await causeway(['store', 'list', ...d])).stdout).to.equal('app/cache/ttl\napp/db\n');
      expect((await causeway(['store', 'list', 'app/', '--separator', '/', ...d])).stdout).to.equal(
        'app/cache/\napp/db\n',
      );
      expect((await causeway(['store', 'info', ...d])).stdout).to.equal(
        `kind: embedded\nindex: 2\nlocation: ${dir}\n`,
      );

      const conflict = await causeway(['store', 'put', 'app/db', 'mysql', '--cas', '0', ...d]);
      expect(conflict.code).to.equal(1);
      expect(conflict.stderr).to.include('(CW_ERR_CONFLICT)');
      expect(conflict.stderr).to.not.include('    at ');

      expect((await causeway(['store', 'delete', 'app/', '--recurse', ...d])).stdout).to.equal(
        'deleted 2 keys\n',
      );
      const missing = await causeway(['store', 'get', 'app/db', ...d]);
      expect(missing).to.include({
        code: 1,
        stdout: '',
        stderr: 'error: key "app/db" not found (CW_ERR_NOT_FOUND)\n',
      });
    });

    it('takes the data directory from CAUSEWAY_DATA_DIR', async function () {
      const env = { CAUSEWAY_DATA_DIR: dir };
      expect((await causeway(['store', 'put', 'k', 'v'], env)).code).to.equal(0);
      expect((await causeway(['store', 'get', 'k', '--data-dir', dir])).stdout).to.equal('v');
    });

    it('stops `store watch` on SIGINT with exit 0', async function () {
      const child = spawn(process.execPath, [bin, 'store', 'watch', '--data-dir', dir], {
        env: childEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const exit = once(child, 'exit');
      // The note on stderr is printed once the store is open and the watch installed.
      await withTimeout(
        new Promise<void>((resolve) =>
          child.stderr.on('data', () => stderr.includes('note:') && resolve()),
        ),
        15_000,
        'watch to start',
      );
      child.kill('SIGINT');
      const [code] = (await withTimeout(exit, 15_000, 'watch to exit')) as [number | null];
      expect(code).to.equal(0);
    });
  });
});

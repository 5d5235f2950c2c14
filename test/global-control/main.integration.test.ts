/**
 * `causeway run global` as a real child process: it serves its API on the flags' address,
 * creates its root and admin token in the data directory, and stops cleanly on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { eventually, withTimeout } from '../helpers/async.ts';
import { childEnv } from '../helpers/child-env.ts';
import { freePort } from '../helpers/ports.ts';

const bin = fileURLToPath(new URL('../../cli/bin/causeway.js', import.meta.url));

describe('causeway run global (integration: child process)', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'cw-run-global-'));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the API with a generated admin token and stops on SIGTERM with exit 0', async function () {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        bin,
        'run',
        'global',
        '--http-addr',
        `127.0.0.1:${port}`,
        '--sync-addr',
        '127.0.0.1:0',
        '--data-dir',
        dir,
      ],
      { env: { ...childEnv(), CAUSEWAY_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const exited = once(child, 'exit');
    try {
      const health = await eventually(
        async () => {
          try {
            const res = await fetch(`http://127.0.0.1:${port}/api/health`);
            return res.ok ? ((await res.json()) as { status: string; rootPin: string }) : undefined;
          } catch {
            return undefined;
          }
        },
        `the global's health on port ${port}`,
        30_000,
        100,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; its output:\n${output}`);
      });
      expect(health.status).to.equal('ok');
      const token = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
      const create = await fetch(`http://127.0.0.1:${port}/api/zones`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'east', kind: 'universal' }),
      });
      expect(create.status).to.equal(201);
      expect(output).to.include('created the global root CA');
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = (await withTimeout(exited, 20_000, 'the global to stop')) as [number | null];
    expect(code, output).to.equal(0);
  });
});

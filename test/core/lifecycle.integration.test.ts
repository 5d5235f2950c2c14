/**
 * Real processes, real signals: a child runs runComponents from a tiny script, the test
 * sends it SIGTERM and checks how it drains and exits. The mocha process itself is never
 * signalled.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { withTimeout } from '../helpers/async.ts';
import { childEnv } from '../helpers/child-env.ts';

const fixture = fileURLToPath(new URL('./fixtures/run-components.ts', import.meta.url));

interface Child {
  lines: Record<string, unknown>[];
  exit: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
  waitFor: (msg: string) => Promise<void>;
}

function runFixture(mode: 'clean' | 'stubborn'): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode], {
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: { msg: string; resolve: () => void }[] = [];
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>;
      buffered = buffered.slice(nl + 1);
      lines.push(line);
      for (const w of waiters.filter((w) => w.msg === line.msg)) w.resolve();
    }
  });
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return {
    lines,
    exit,
    kill: (signal) => child.kill(signal),
    waitFor: (msg) =>
      lines.some((l) => l.msg === msg)
        ? Promise.resolve()
        : withTimeout(new Promise<void>((resolve) => waiters.push({ msg, resolve })), 10_000, msg),
  };
}

describe('lifecycle in a real process (integration)', function () {
  this.timeout(20_000);

  it('drains every component in reverse order on SIGTERM and exits 0', async function () {
    const child = runFixture('clean');
    await child.waitFor('all components ready');
    child.kill('SIGTERM');
    expect(await withTimeout(child.exit, 10_000, 'exit')).to.equal(0);
    const stopped = child.lines.filter((l) => l.msg === 'component stopped');
    expect(stopped.map((l) => l.componentName)).to.deep.equal(['api', 'sync', 'store']);
    expect(child.lines.find((l) => l.msg === 'stopping')).to.include({
      reason: 'received SIGTERM',
    });
  });

  it('exits non-zero after the drain timeout when a component ignores the abort', async function () {
    const child = runFixture('stubborn');
    await child.waitFor('all components ready');
    child.kill('SIGTERM');
    expect(await withTimeout(child.exit, 10_000, 'exit')).to.equal(1);
    const failed = child.lines.find((l) => l.msg === 'exiting after a failed drain');
    expect(failed?.err).to.deep.include({
      code: 'CW_ERR_TIMEOUT',
      message: 'component "stuck-sync" did not stop within the drain timeout (300ms)',
    });
    // The others still drained cleanly around the stuck one.
    const stopped = child.lines.filter((l) => l.msg === 'component stopped');
    expect(stopped.map((l) => l.componentName)).to.deep.equal(['api', 'store']);
  });
});

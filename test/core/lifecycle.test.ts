import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import {
  DrainTimeoutError,
  closeOnStop,
  runComponents,
  sleep as abortableSleep,
  untilAborted,
} from '../../core/src/lifecycle.ts';
import type { Component, SignalInstaller } from '../../core/src/lifecycle.ts';
import { createLogger } from '../../core/src/logging.ts';
import { TimeoutError } from '../../core/src/errors.ts';
import { withTimeout } from '../helpers/async.ts';

/** A logger whose lines the test can read back. */
function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', destination: stream }) };
}

/** Stands in for process signals, so tests never signal the mocha process. */
function fakeSignals() {
  let handler: ((signal: NodeJS.Signals) => void) | undefined;
  const state = { installed: [] as NodeJS.Signals[], uninstalled: false };
  const install: SignalInstaller = (signals, onSignal) => {
    state.installed = [...signals];
    handler = onSignal;
    return () => {
      handler = undefined;
      state.uninstalled = true;
    };
  };
  return { install, state, send: (signal: NodeJS.Signals) => handler?.(signal) };
}

interface FakeBehaviour {
  readyAfterMs?: number;
  readyFails?: Error;
  /** Reject start() after this many ms, as a crashed listener would. */
  failAfterMs?: number;
  failWith?: Error;
  /** Never stop when aborted. */
  ignoreAbort?: boolean;
  /** Reject, rather than resolve, when aborted. */
  stopWith?: Error;
  /** Resolve on its own after this many ms. */
  finishAfterMs?: number;
}

function fake(name: string, events: string[], behaviour: FakeBehaviour = {}): Component {
  let readyResolve = () => {};
  const ready = new Promise<void>((resolve) => (readyResolve = resolve));
  return {
    name,
    async start(signal) {
      events.push(`start ${name}`);
      setTimeout(readyResolve, behaviour.readyAfterMs ?? 0);
      if (behaviour.failAfterMs !== undefined) {
        await sleep(behaviour.failAfterMs);
        throw behaviour.failWith ?? new Error(`${name} crashed`);
      }
      if (behaviour.finishAfterMs !== undefined) {
        await sleep(behaviour.finishAfterMs);
        events.push(`finish ${name}`);
        return;
      }
      if (behaviour.ignoreAbort) return new Promise<void>(() => {});
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      events.push(`stop ${name}`);
      if (behaviour.stopWith !== undefined) throw behaviour.stopWith;
    },
    async ready() {
      if (behaviour.readyFails) throw behaviour.readyFails;
      await ready;
      events.push(`ready ${name}`);
    },
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  await withTimeout(
    (async () => {
      while (!check()) await sleep(2);
    })(),
    2000,
    what,
  );
}

describe('lifecycle', function () {
  it('starts components in order, each after the previous one is ready', async function () {
    const events: string[] = [];
    const signals = fakeSignals();
    const { logger } = captureLogger();
    const run = runComponents(
      [fake('store', events, { readyAfterMs: 20 }), fake('api', events), fake('sync', events)],
      { logger, installSignals: signals.install },
    );
    await until(() => events.includes('ready sync'), 'all ready');
    expect(events).to.deep.equal([
      'start store',
      'ready store',
      'start api',
      'ready api',
      'start sync',
      'ready sync',
    ]);
    signals.send('SIGTERM');
    await run;
  });

  it('on SIGTERM stops components in reverse order and resolves', async function () {
    const events: string[] = [];
    const signals = fakeSignals();
    const { logger, lines } = captureLogger();
    const run = runComponents([fake('a', events), fake('b', events), fake('c', events)], {
      logger,
      installSignals: signals.install,
    });
    await until(() => events.includes('ready c'), 'ready');
    expect(signals.state.installed).to.deep.equal(['SIGTERM', 'SIGINT']);
    signals.send('SIGTERM');
    await run;
    expect(events.filter((e) => e.startsWith('stop'))).to.deep.equal([
      'stop c',
      'stop b',
      'stop a',
    ]);
    expect(signals.state.uninstalled).to.equal(true);
    expect(lines.find((l) => l.msg === 'stopping')).to.include({ reason: 'received SIGTERM' });
    expect(lines.at(-1)).to.include({ msg: 'all components stopped' });
  });

  it('installs the signals it is given', async function () {
    const signals = fakeSignals();
    const run = runComponents([fake('a', [])], {
      logger: captureLogger().logger,
      installSignals: signals.install,
      signals: ['SIGHUP'],
    });
    await until(() => signals.state.installed.length > 0, 'installed');
    expect(signals.state.installed).to.deep.equal(['SIGHUP']);
    signals.send('SIGHUP');
    await run;
  });

  it('stops when the external AbortSignal aborts', async function () {
    const events: string[] = [];
    const controller = new AbortController();
    const run = runComponents([fake('a', events), fake('b', events)], {
      logger: captureLogger().logger,
      installSignals: fakeSignals().install,
      signal: controller.signal,
    });
    await until(() => events.includes('ready b'), 'ready');
    controller.abort();
    await run;
    expect(events.slice(-2)).to.deep.equal(['stop b', 'stop a']);
  });

  it('starts nothing when the external signal is already aborted', async function () {
    const events: string[] = [];
    await runComponents([fake('a', events)], {
      logger: captureLogger().logger,
      installSignals: fakeSignals().install,
      signal: AbortSignal.abort(),
    });
    expect(events).to.deep.equal([]);
  });

  it('stops what started and starts nothing more when a signal arrives during startup', async function () {
    const events: string[] = [];
    const signals = fakeSignals();
    const run = runComponents(
      [fake('slow', events, { readyAfterMs: 10_000 }), fake('next', events)],
      {
        logger: captureLogger().logger,
        installSignals: signals.install,
      },
    );
    await until(() => events.includes('start slow'), 'started');
    signals.send('SIGINT');
    await withTimeout(run, 2000, 'run');
    expect(events).to.deep.equal(['start slow', 'stop slow']);
  });

  it('rejects with a DrainTimeoutError naming a component that ignores abort, after stopping the rest', async function () {
    const events: string[] = [];
    const signals = fakeSignals();
    const { logger, lines } = captureLogger();
    const run = runComponents(
      [fake('store', events), fake('stuck', events, { ignoreAbort: true }), fake('api', events)],
      { logger, installSignals: signals.install, drainTimeoutMs: 50 },
    );
    await until(() => events.includes('ready api'), 'ready');
    const started = Date.now();
    signals.send('SIGTERM');
    const err = await run.then(
      () => expect.fail('should reject'),
      (e: unknown) => e,
    );
    expect(Date.now() - started).to.be.below(1000);
    expect(err).to.be.instanceOf(DrainTimeoutError).and.instanceOf(TimeoutError);
    expect(err).to.include({ code: 'CW_ERR_TIMEOUT' });
    expect((err as DrainTimeoutError).components).to.deep.equal(['stuck']);
    expect((err as Error).message).to.equal(
      'component "stuck" did not stop within the drain timeout (50ms)',
    );
    expect(events.filter((e) => e.startsWith('stop'))).to.deep.equal(['stop api', 'stop store']);
    expect(
      lines.find((l) => l.msg === 'component did not stop within the drain timeout'),
    ).to.include({ componentName: 'stuck', level: 'error' });
  });

  it('stops the rest and rejects with the error when a start() fails unexpectedly', async function () {
    const events: string[] = [];
    const crash = new Error('listen EADDRINUSE');
    const { logger, lines } = captureLogger();
    const run = runComponents(
      [
        fake('a', events),
        fake('b', events, { failAfterMs: 30, failWith: crash }),
        fake('c', events),
      ],
      { logger, installSignals: fakeSignals().install },
    );
    const err = await run.then(
      () => expect.fail('should reject'),
      (e: unknown) => e,
    );
    expect(err).to.equal(crash);
    expect(events).to.deep.equal([
      'start a',
      'ready a',
      'start b',
      'ready b',
      'start c',
      'ready c',
      'stop c',
      'stop a',
    ]);
    expect(lines.find((l) => l.msg === 'component failed')).to.include({ componentName: 'b' });
  });

  it('does not start later components when one fails before it is ready', async function () {
    const events: string[] = [];
    const crash = new Error('bad config');
    const err = await runComponents(
      [
        fake('a', events),
        fake('b', events, { failAfterMs: 0, failWith: crash, readyAfterMs: 10_000 }),
        fake('c', events),
      ],
      { logger: captureLogger().logger, installSignals: fakeSignals().install },
    ).then(
      () => expect.fail('should reject'),
      (e: unknown) => e,
    );
    expect(err).to.equal(crash);
    expect(events).to.deep.equal(['start a', 'ready a', 'start b', 'stop a']);
  });

  it('treats a failing ready() as a failure', async function () {
    const events: string[] = [];
    const notReady = new Error('first sync failed');
    const err = await runComponents(
      [fake('a', events), fake('b', events, { readyFails: notReady }), fake('c', events)],
      { logger: captureLogger().logger, installSignals: fakeSignals().install },
    ).then(
      () => expect.fail('should reject'),
      (e: unknown) => e,
    );
    expect(err).to.equal(notReady);
    expect(events).to.deep.equal(['start a', 'ready a', 'start b', 'stop b', 'stop a']);
  });

  it('turns a synchronous throw from start() into a failure', async function () {
    const boom = new Error('sync boom');
    const component: Component = {
      name: 'sync',
      start() {
        throw boom;
      },
    };
    const err = await runComponents([component], {
      logger: captureLogger().logger,
      installSignals: fakeSignals().install,
    }).then(
      () => expect.fail('should reject'),
      (e: unknown) => e,
    );
    expect(err).to.equal(boom);
  });

  it('counts an AbortError after the abort as a clean stop', async function () {
    const events: string[] = [];
    const signals = fakeSignals();
    const component: Component = {
      name: 'waiter',
      async start(signal) {
        events.push('start');
        await sleep(60_000, undefined, { signal }); // rejects with an AbortError
      },
    };
    const run = runComponents([component], {
      logger: captureLogger().logger,
      installSignals: signals.install,
    });
    await until(() => events.includes('start'), 'started');
    signals.send('SIGTERM');
    await run;
  });

  it('rejects with the error of a component that fails while stopping', async function () {
    const events: string[] = [];
    const signals = fakeSignals();
    const flushFailed = new Error('flush failed');
    const run = runComponents([fake('a', events), fake('b', events, { stopWith: flushFailed })], {
      logger: captureLogger().logger,
      installSignals: signals.install,
    });
    await until(() => events.includes('ready b'), 'ready');
    signals.send('SIGTERM');
    const err = await run.then(
      () => expect.fail('should reject'),
      (e: unknown) => e,
    );
    expect(err).to.equal(flushFailed);
    expect(events.slice(-2)).to.deep.equal(['stop b', 'stop a']);
  });

  it('logs a second signal while draining and keeps draining', async function () {
    const events: string[] = [];
    const signals = fakeSignals();
    const { logger, lines } = captureLogger();
    const slowStop: Component = {
      name: 'slow-stop',
      async start(signal) {
        events.push('start');
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        await sleep(50);
        events.push('stopped');
      },
    };
    const run = runComponents([slowStop], { logger, installSignals: signals.install });
    await until(() => events.includes('start'), 'started');
    signals.send('SIGTERM');
    signals.send('SIGINT');
    await run;
    expect(events).to.deep.equal(['start', 'stopped']);
    expect(
      lines.find((l) => l.msg === 'already stopping; waiting for components to drain'),
    ).to.include({ reason: 'received SIGINT', level: 'warn' });
  });

  it('resolves when every component finishes on its own', async function () {
    const events: string[] = [];
    const { logger, lines } = captureLogger();
    await withTimeout(
      runComponents(
        [fake('migrate', events, { finishAfterMs: 5 }), fake('seed', events, { finishAfterMs: 5 })],
        { logger, installSignals: fakeSignals().install },
      ),
      2000,
      'run',
    );
    expect(events).to.include.members(['finish migrate', 'finish seed']);
    expect(lines.at(-1)).to.include({ msg: 'all components finished' });
  });

  it('resolves at once with no components', async function () {
    await runComponents([], {
      logger: captureLogger().logger,
      installSignals: fakeSignals().install,
    });
  });
});

describe('sleep (abortable)', function () {
  it('waits the given time, or ends early and quietly when the signal aborts', async function () {
    const ac = new AbortController();
    let done = false;
    const waiting = abortableSleep(60_000, ac.signal).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).to.equal(false);
    ac.abort();
    await waiting;
    expect(done).to.equal(true);
    await abortableSleep(1, new AbortController().signal);
    await abortableSleep(60_000, AbortSignal.abort());
  });

  it('waits until the signal aborts, or not at all when it already has', async function () {
    const ac = new AbortController();
    let done = false;
    const waiting = untilAborted(ac.signal).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).to.equal(false);
    ac.abort();
    await waiting;
    expect(done).to.equal(true);
    await untilAborted(AbortSignal.abort());
  });

  it('closes what a closeOnStop component holds only once the run stops', async function () {
    const ac = new AbortController();
    let closed = 0;
    const running = closeOnStop('store', () => {
      closed++;
      return Promise.resolve();
    }).start(ac.signal);
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).to.equal(0);
    ac.abort();
    await running;
    expect(closed).to.equal(1);
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type { ComponentRegistry, RunContext } from '../../cli/index.ts';
import type { Component } from '../../core/src/lifecycle.ts';
import { openStore } from '../../core/src/store/open-store.ts';
import type { Store } from '../../core/src/store/types.ts';
import { withTimeout } from '../helpers/async.ts';
import { Harness } from './harness.ts';

/** A component that runs until aborted, or ignores the abort when `stubborn`. */
function component(name: string, events: string[], stubborn = false): Component {
  return {
    name,
    async start(signal) {
      events.push(`start ${name}`);
      if (stubborn) return new Promise<void>(() => {});
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      events.push(`stop ${name}`);
    },
  };
}

async function until(check: () => boolean): Promise<void> {
  await withTimeout(
    (async () => {
      while (!check()) await sleep(2);
    })(),
    2000,
    'condition',
  );
}

describe('cli/run-command', function () {
  let store: Store;
  before(async function () {
    store = await openStore('memory', {});
  });
  after(async function () {
    await store.close();
  });

  it('answers an unknown component with the available ones and exit 2', async function () {
    const h = new Harness(store);
    expect(await h.run('run', 'mesh')).to.equal(2);
    expect(h.stderr.text).to.equal(
      'error: unknown component "mesh"; available components: gateway, global, proxy, zone (CW_ERR_INVALID_ARGUMENT)\n',
    );
    expect(h.stdout.text).to.equal('');
  });

  it('lists the registered components when the name is unknown', async function () {
    const registry: ComponentRegistry = new Map([
      ['zone', { description: 'zone control plane', load: () => Promise.resolve(() => []) }],
      ['global', { description: 'global control plane', load: () => Promise.resolve(() => []) }],
    ]);
    const h = new Harness(store, { components: registry });
    expect(await h.run('run', 'proxy')).to.equal(2);
    expect(h.stderr.text).to.include(
      'unknown component "proxy"; available components: global, zone',
    );
  });

  it('shows the components in run --help', async function () {
    const empty = new Harness(store, { components: new Map() });
    expect(await empty.run('run', '--help')).to.equal(0);
    expect(empty.stdout.text).to.include('Components:\n  (none yet — see docs/README.md)');
    const registry: ComponentRegistry = new Map([
      ['zone', { description: 'zone control plane', load: () => Promise.resolve(() => []) }],
    ]);
    const listed = new Harness(store, { components: registry });
    await listed.run('run', '--help');
    expect(listed.stdout.text).to.match(/Components:\n {2}zone {7}zone control plane/);
  });

  it('loads the component, passes its own arguments, and drains it on SIGTERM', async function () {
    const events: string[] = [];
    let context: RunContext | undefined;
    const registry: ComponentRegistry = new Map([
      [
        'proxy',
        {
          description: 'sidecar proxy',
          load: () =>
            Promise.resolve((ctx: RunContext) => {
              context = ctx;
              return [component('listener', events), component('config-stream', events)];
            }),
        },
      ],
    ]);
    const h = new Harness(store, { components: registry, env: { CAUSEWAY_ZONE: 'east' } });
    const run = h.run('run', 'proxy', '--service', 'web', '--port', '8080', '--log-level', 'debug');
    await until(() => events.length === 2);
    expect(context?.args).to.deep.equal(['--service', 'web', '--port', '8080']);
    expect(context?.env).to.deep.equal({ CAUSEWAY_ZONE: 'east' });
    h.signals.send('SIGTERM');
    expect(await withTimeout(run, 2000, 'run')).to.equal(0);
    expect(events).to.deep.equal([
      'start listener',
      'start config-stream',
      'stop config-stream',
      'stop listener',
    ]);
    const logs = h.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs[0]).to.deep.include({
      level: 'info',
      component: 'proxy',
      msg: 'starting proxy',
      options: { logLevel: 'debug', drainTimeoutMs: 10_000, drainTimeout: '10s' },
    });
    expect(logs.at(-1)).to.include({ msg: 'all components stopped' });
  });

  it('exits 1 naming the component that did not drain in time', async function () {
    const events: string[] = [];
    const registry: ComponentRegistry = new Map([
      [
        'zone',
        {
          description: 'zone control plane',
          load: () =>
            Promise.resolve(() => [component('kv-api', events), component('stuck', events, true)]),
        },
      ],
    ]);
    const h = new Harness(store, {
      components: registry,
      env: { CAUSEWAY_DRAIN_TIMEOUT: '5s' },
    });
    const run = h.run('run', 'zone', '--drain-timeout', '50ms');
    await until(() => events.length === 2);
    h.signals.send('SIGINT');
    expect(await withTimeout(run, 2000, 'run')).to.equal(1);
    expect(h.stderr.text).to.equal(
      'error: component "stuck" did not stop within the drain timeout (50ms) (CW_ERR_TIMEOUT)\n',
    );
    expect(events).to.include('stop kv-api');
  });

  it('refuses a bad drain timeout from the environment, naming the variable', async function () {
    const registry: ComponentRegistry = new Map([
      ['zone', { description: 'zone', load: () => Promise.resolve(() => []) }],
    ]);
    const h = new Harness(store, { components: registry, env: { CAUSEWAY_DRAIN_TIMEOUT: '30' } });
    expect(await h.run('run', 'zone')).to.equal(2);
    expect(h.stderr.text).to.equal(
      'error: CAUSEWAY_DRAIN_TIMEOUT: duration "30" has no unit; write e.g. "30ms" or "30s" (CW_ERR_CONFIG)\n',
    );
  });

  it('exits 1 with the error when a component fails', async function () {
    const registry: ComponentRegistry = new Map([
      [
        'gateway',
        {
          description: 'east-west gateway',
          load: () =>
            Promise.resolve(() => [
              {
                name: 'listener',
                start: () => {
                  const err = new Error('listen EADDRINUSE: address already in use :::15443');
                  return Promise.reject(Object.assign(err, { code: 'EADDRINUSE' }));
                },
              },
            ]),
        },
      ],
    ]);
    const h = new Harness(store, { components: registry });
    expect(await h.run('run', 'gateway')).to.equal(1);
    expect(h.stderr.text).to.equal(
      'error: listen EADDRINUSE: address already in use :::15443 (EADDRINUSE)\n',
    );
  });
});

/**
 * Run a process's components in the test process, as `causeway run` would but without
 * signal handlers, until the test stops them.
 */
import type { Logger } from 'pino';
import { runComponents } from '../../core/index.ts';
import type { Component } from '../../core/index.ts';

export interface RunningInTest {
  stop(): Promise<void>;
}

/**
 * Start `components` and wait for `ready`. A component that fails at start ends the run
 * before that: the error then says `what` stopped early.
 */
export async function runInTest(
  components: Component[],
  logger: Logger,
  ready: () => Promise<void>,
  what: string,
): Promise<RunningInTest> {
  const ac = new AbortController();
  const running = runComponents(components, {
    logger,
    signal: ac.signal,
    installSignals: () => () => undefined,
    drainTimeoutMs: 5000,
  });
  running.catch(() => undefined);
  await Promise.race([
    ready(),
    running.then(() => {
      throw new Error(`${what} stopped before it was ready`);
    }),
  ]);
  return {
    async stop() {
      ac.abort();
      await running;
    },
  };
}

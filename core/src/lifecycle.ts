/**
 * One shape for every long-running piece of a process, and one runner that starts them in
 * order and stops them in reverse (Kuma's `Component` and component manager).
 */
import { TimeoutError } from './errors.ts';
import { formatDuration } from './options/duration.ts';
import type { Logger } from './logging.ts';

/**
 * A long-running part of a process: a listener, a sync loop, a watcher.
 *
 * `start()` runs the component and settles only when it has stopped: it must resolve soon
 * after `signal` aborts, once its connections are drained and its resources released.
 * Rejecting means the component failed; the runner then stops the whole process. Rejecting
 * with an `AbortError` (or the signal's reason) after the abort counts as a clean stop, so
 * `await once(emitter, 'x', { signal })`-style code needs no special casing. Resolving
 * before the abort means the component finished its work; the others keep running.
 */
export interface Component {
  /** Short, stable name for logs and drain reports (`"kv-api"`, `"zone-sync"`). */
  readonly name: string;
  start(signal: AbortSignal): Promise<void>;
  /**
   * Resolves once the component serves (its port is bound, its first sync is done). The
   * runner starts the next component only then, so later components can rely on earlier
   * ones. Without it, the component counts as ready as soon as `start()` is called.
   */
  ready?(): Promise<void>;
  /**
   * Runs only on the elected leader when several replicas share a store (Kuma's
   * `NeedLeaderElection`). A runner without leader election — a single replica — is
   * always the leader, so {@link runComponents} runs it like any other.
   */
  readonly needsLeader?: boolean;
}

/**
 * Subscribe `onSignal` to process signals and return the unsubscribe function. The
 * default is {@link processSignals}; tests pass a fake so they never signal mocha itself.
 */
export type SignalInstaller = (
  signals: readonly NodeJS.Signals[],
  onSignal: (signal: NodeJS.Signals) => void,
) => () => void;

/** The real {@link SignalInstaller}: `process.on(signal)` until uninstalled. */
export const processSignals: SignalInstaller = (signals, onSignal) => {
  const handler = (signal: NodeJS.Signals) => onSignal(signal);
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
};

export interface RunOptions {
  logger: Logger;
  /**
   * How long each component may take to stop after its signal aborts, in milliseconds.
   * Components stop one after the other, so a full drain can take up to this times the
   * number of components.
   * @default 10_000
   */
  drainTimeoutMs?: number;
  /**
   * Signals that start a graceful stop. Handlers are installed only while running; while
   * draining, further signals are logged and otherwise ignored.
   * @default ["SIGTERM", "SIGINT"]
   */
  signals?: readonly NodeJS.Signals[];
  /** Stops the components when aborted, exactly like a signal. */
  signal?: AbortSignal;
  /** @default processSignals */
  installSignals?: SignalInstaller;
}

/** Why {@link runComponents} gave up: which components did not stop in time. */
export class DrainTimeoutError extends TimeoutError {
  readonly components: readonly string[];
  constructor(components: readonly string[], drainTimeoutMs: number) {
    super(
      `component${components.length === 1 ? '' : 's'} ${components.map((c) => `"${c}"`).join(', ')} ` +
        `did not stop within the drain timeout (${formatDuration(drainTimeoutMs)})`,
    );
    this.components = components;
  }
}

type Outcome = { ok: true } | { ok: false; error: unknown };

interface Running {
  component: Component;
  controller: AbortController;
  /** Settles when `start()` does; never rejects. */
  done: Promise<Outcome>;
  settled: boolean;
}

/**
 * Start `components` in order — each after the previous one is ready — and keep them
 * running until a signal (or `options.signal`) asks to stop or one of them fails. Then
 * abort them in reverse order, waiting up to `drainTimeoutMs` for each to stop.
 *
 * Resolves when every component stopped cleanly. Rejects with the first component
 * failure (after stopping the rest), or with a {@link DrainTimeoutError} naming the
 * components that did not stop in time; callers should exit non-zero, since those
 * components may still hold the event loop open.
 */
export async function runComponents(
  components: readonly Component[],
  options: RunOptions,
): Promise<void> {
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  const log = options.logger;
  const stop = new AbortController();
  let failure: { component: string; error: unknown } | undefined;

  const requestStop = (reason: string) => {
    if (stop.signal.aborted) {
      log.warn({ reason }, 'already stopping; waiting for components to drain');
      return;
    }
    log.info({ reason }, 'stopping');
    stop.abort(reason);
  };
  const uninstall = (options.installSignals ?? processSignals)(
    options.signals ?? ['SIGTERM', 'SIGINT'],
    (signal) => requestStop(`received ${signal}`),
  );
  const onExternalAbort = () => requestStop('stop requested');
  options.signal?.addEventListener('abort', onExternalAbort, { once: true });
  if (options.signal?.aborted) onExternalAbort();

  const fail = (component: string, error: unknown) => {
    if (failure !== undefined) return;
    failure = { component, error };
    log.error({ componentName: component, err: error }, 'component failed');
    requestStop(`component "${component}" failed`);
  };

  const running: Running[] = [];
  try {
    for (const component of components) {
      if (stop.signal.aborted) break;
      const entry = start(component, log);
      running.push(entry);
      void entry.done.then((outcome) => {
        if (!outcome.ok && !entry.controller.signal.aborted) fail(component.name, outcome.error);
      });
      const readyError = await waitReady(entry, stop.signal, log);
      if (readyError !== undefined) fail(component.name, readyError);
    }
    if (!stop.signal.aborted) log.info({ components: running.length }, 'all components ready');
    // Also return when every component finished on its own: nothing is left to stop, and a
    // pending await with an empty event loop would end the process with exit code 13.
    const allDone = Promise.all(running.map((r) => r.done));
    const stopped = await Promise.race([
      untilAborted(stop.signal).then(() => true),
      allDone.then(() => false),
    ]);
    if (!stopped && failure === undefined) {
      log.info('all components finished');
      return;
    }

    const { undrained, errors } = await drain(running, drainTimeoutMs, log);
    if (failure !== undefined) throw failure.error;
    if (undrained.length > 0) throw new DrainTimeoutError(undrained, drainTimeoutMs);
    if (errors.length > 0) throw errors[0];
    log.info('all components stopped');
  } finally {
    uninstall();
    options.signal?.removeEventListener('abort', onExternalAbort);
  }
}

function start(component: Component, log: Logger): Running {
  const controller = new AbortController();
  log.info({ componentName: component.name }, 'starting component');
  const entry: Running = {
    component,
    controller,
    done: Promise.resolve({ ok: true }),
    settled: false,
  };
  // Promise.resolve().then() turns a synchronous throw from start() into a rejection.
  entry.done = Promise.resolve()
    .then(() => component.start(controller.signal))
    .then(
      (): Outcome => {
        if (!controller.signal.aborted) {
          log.info({ componentName: component.name }, 'component finished');
        }
        return { ok: true };
      },
      (error: unknown): Outcome =>
        controller.signal.aborted && isAbortError(error, controller.signal)
          ? { ok: true }
          : { ok: false, error },
    )
    .finally(() => {
      entry.settled = true;
    });
  return entry;
}

/** Wait for `ready()`; returns the error if it fails or `start()` fails first. */
async function waitReady(entry: Running, stop: AbortSignal, log: Logger): Promise<unknown> {
  const { component } = entry;
  const ready = component.ready
    ? Promise.resolve()
        .then(() => component.ready?.())
        .then(
          () => undefined,
          (error: unknown) => error ?? new Error('ready() rejected'),
        )
    : Promise.resolve(undefined);
  const result = await Promise.race([
    ready,
    // A start() that fails before ready is reported by the done handler; stop waiting.
    entry.done.then((outcome) => (outcome.ok ? undefined : null)),
    untilAborted(stop).then(() => null),
  ]);
  if (result === undefined && !stop.aborted) {
    log.info({ componentName: component.name }, 'component ready');
  }
  return result ?? undefined;
}

/**
 * Abort components newest first. Returns the names of those that did not stop in time and
 * the errors of those that failed while stopping.
 */
async function drain(running: readonly Running[], timeoutMs: number, log: Logger) {
  const undrained: string[] = [];
  const errors: unknown[] = [];
  for (const entry of [...running].reverse()) {
    const name = entry.component.name;
    if (entry.settled) continue;
    log.info({ componentName: name }, 'stopping component');
    const started = Date.now();
    // An AbortError reason, as AbortSignal.abort() gives, so `signal.throwIfAborted()` and
    // `once(..., { signal })` in components throw what isAbortError() recognises.
    entry.controller.abort(new DOMException('process is stopping', 'AbortError'));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([entry.done, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      undrained.push(name);
      log.error(
        { componentName: name, drainTimeoutMs: timeoutMs },
        'component did not stop within the drain timeout',
      );
    } else if (!outcome.ok) {
      errors.push(outcome.error);
      log.error({ componentName: name, err: outcome.error }, 'component failed while stopping');
    } else {
      log.info({ componentName: name, durationMs: Date.now() - started }, 'component stopped');
    }
  }
  return { undrained, errors };
}

function isAbortError(error: unknown, signal: AbortSignal): boolean {
  return (
    error === signal.reason ||
    ((error instanceof Error || error instanceof DOMException) && error.name === 'AbortError')
  );
}

/** Resolves once `signal` aborts (at once if it already has): a component's "serve until stopped". */
export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(), { once: true }),
  );
}

/**
 * A component that holds something open for the whole run and closes it once the run
 * stops. Listed first, it stops last, after every part that uses it (a process's store).
 */
export function closeOnStop(name: string, close: () => Promise<void>): Component {
  return {
    name,
    async start(signal) {
      await untilAborted(signal);
      await close();
    },
  };
}

/**
 * Wait `ms`, or less if `signal` aborts first (then resolve, not reject: a component
 * sleeping between retries just wants to notice the stop and return).
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

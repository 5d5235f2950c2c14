/**
 * Runs the `causeway` program in-process with captured output, a shared in-memory store
 * and fake signals, so CLI tests are fast and never signal the mocha process.
 */
import { Readable, Writable } from 'node:stream';
import { runCli } from '../../cli/index.ts';
import type { CliContext, ComponentRegistry, Output } from '../../cli/index.ts';
import type { SignalInstaller } from '../../core/src/lifecycle.ts';
import type { OpenStoreOptions } from '../../core/src/store/open-store.ts';
import type { Store } from '../../core/src/store/types.ts';

export class Captured implements Output {
  readonly chunks: Buffer[] = [];
  isTTY = false;
  write(chunk: string | Uint8Array): boolean {
    this.chunks.push(Buffer.from(chunk));
    return true;
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  get lines(): string[] {
    return this.text.split('\n').filter((l) => l !== '');
  }
}

/** Signals the test sends by hand. */
export class FakeSignals {
  private handler: ((signal: NodeJS.Signals) => void) | undefined;
  installed: readonly NodeJS.Signals[] = [];
  readonly install: SignalInstaller = (signals, onSignal) => {
    this.installed = signals;
    this.handler = onSignal;
    return () => {
      this.handler = undefined;
    };
  };
  get listening(): boolean {
    return this.handler !== undefined;
  }
  send(signal: NodeJS.Signals): void {
    this.handler?.(signal);
  }
}

/** Every call of the injected openStore, to check which store a command asked for. */
export interface OpenCall {
  url: string | undefined;
  options: OpenStoreOptions;
}

/** The store each command opens and closes; the test's store stays open across commands. */
function sharedView(store: Store, onClose: () => void): Store {
  return {
    kind: store.kind,
    get: (key) => store.get(key),
    list: (prefix, options) => store.list(prefix, options),
    put: (key, value, options) => store.put(key, value, options),
    delete: (key, options) => store.delete(key, options),
    txn: (ops) => store.txn(ops),
    currentIndex: () => store.currentIndex(),
    watch: (prefix, from, options) => store.watch(prefix, from, options),
    close: () => {
      onClose();
      return Promise.resolve();
    },
  };
}

export interface HarnessOptions {
  env?: Record<string, string>;
  components?: ComponentRegistry;
  stdin?: string;
}

export class Harness {
  readonly stdout = new Captured();
  readonly stderr = new Captured();
  readonly logs = new Captured();
  readonly signals = new FakeSignals();
  readonly opened: OpenCall[] = [];
  closed = 0;
  readonly ctx: CliContext;

  constructor(
    readonly store: Store,
    options: HarnessOptions = {},
  ) {
    const logs = this.logs;
    const stdin = options.stdin ?? '';
    this.ctx = {
      env: options.env ?? {},
      stdout: this.stdout,
      stderr: this.stderr,
      stdin: Readable.from([Buffer.from(stdin)]),
      installSignals: this.signals.install,
      openStore: (url, opts) => {
        this.opened.push({ url, options: opts });
        return Promise.resolve(sharedView(store, () => this.closed++));
      },
      components: options.components,
      logDestination: new Writable({
        write(chunk: Buffer, _encoding, callback) {
          logs.write(chunk);
          callback();
        },
      }),
    };
  }

  /** Run `causeway ...args`; resolves with the exit code. */
  run(...args: string[]): Promise<number> {
    return runCli(['node', 'causeway', ...args], this.ctx);
  }
}

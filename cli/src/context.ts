/**
 * Everything the CLI takes from its surroundings. `main.ts` fills it from `process`;
 * tests pass their own streams, environment, store and signals.
 */
import type { DestinationStream } from 'pino';
import type { SignalInstaller } from '../../core/src/lifecycle.ts';
import type { Env } from '../../core/src/options/env.ts';
import type { OpenStoreOptions } from '../../core/src/store/open-store.ts';
import type { Store } from '../../core/src/store/types.ts';
import type { ComponentRegistry } from './components.ts';

/** A writable the CLI prints to; `isTTY` decides small cosmetics such as a final newline. */
export interface Output {
  write(chunk: string | Uint8Array): boolean;
  isTTY?: boolean;
}

export type OpenStore = (url: string | undefined, options: OpenStoreOptions) => Promise<Store>;

export interface CliContext {
  env: Env;
  stdout: Output;
  stderr: Output;
  /** Read by `store put <key> -`. */
  stdin: AsyncIterable<string | Buffer>;
  /** @default processSignals */
  installSignals?: SignalInstaller;
  /** @default `openStore` from core/src/store/open-store.ts, imported on first use */
  openStore?: OpenStore;
  /** @default the built-in registry in components.ts */
  components?: ComponentRegistry;
  /** Where log lines go. @default stdout for `run`, stderr for every other command */
  logDestination?: DestinationStream;
}

/**
 * For the embedded store tests that work on real files: a fresh temp data directory for every
 * test, stores opened on it, and a look at the log files they write.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openEmbeddedStore } from '../../../core/src/store/embedded/embedded-store.ts';
import type {
  EmbeddedStore,
  EmbeddedStoreOptions,
} from '../../../core/src/store/embedded/embedded-store.ts';

export interface DataDir {
  /** The running test's data directory, fresh and empty when the test starts. */
  readonly dir: string;
  /** The warnings logged by the stores the running test opened with {@link DataDir.open}. */
  readonly warnings: { obj: object; msg: string }[];
  /** Open a store on `dir` that records its warnings; it is closed after the test. */
  readonly open: (options?: EmbeddedStoreOptions) => Promise<EmbeddedStore>;
  /** The names of the log segments in `dir`, oldest first. */
  readonly logFiles: () => Promise<string[]>;
  /** The path of the newest log segment. */
  readonly newestLog: () => Promise<string>;
  /** Open the store again and list its keys. */
  readonly keysAfterReopen: () => Promise<string[]>;
}

/**
 * Registers, in the calling describe block, hooks that make a temp directory named
 * `prefix...` before every test, and close the test's stores and remove it afterwards.
 */
export function useDataDir(prefix: string): DataDir {
  let dir: string;
  let opened: EmbeddedStore[];
  let warnings: { obj: object; msg: string }[];

  async function open(options: EmbeddedStoreOptions = {}): Promise<EmbeddedStore> {
    const store = await openEmbeddedStore({
      dataDir: dir,
      logger: { warn: (obj, msg) => warnings.push({ obj, msg }) },
      ...options,
    });
    opened.push(store);
    return store;
  }

  async function logFiles(): Promise<string[]> {
    return (await readdir(dir)).filter((n) => n.endsWith('.log')).sort();
  }

  async function newestLog(): Promise<string> {
    const logs = await logFiles();
    return path.join(dir, logs.at(-1)!);
  }

  async function keysAfterReopen(): Promise<string[]> {
    const store = await open();
    return (await store.list('')).entries.map((e) => e.key);
  }

  beforeEach(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), prefix));
    opened = [];
    warnings = [];
  });

  afterEach(async function () {
    await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
    await rm(dir, { recursive: true, force: true });
  });

  return {
    get dir() {
      return dir;
    },
    get warnings() {
      return warnings;
    },
    open,
    logFiles,
    newestLog,
    keysAfterReopen,
  };
}

/** Byte ranges of the records in a log file, from their length prefixes. */
export function recordRanges(buf: Buffer): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (let at = 0; at + 8 <= buf.length;) {
    const end = at + 8 + buf.readUInt32BE(at);
    out.push({ start: at, end });
    at = end;
  }
  return out;
}

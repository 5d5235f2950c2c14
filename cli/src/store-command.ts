/**
 * `causeway store …`: read and write the store directly, as `etcdctl` does for etcd. For
 * operators repairing or inspecting state; services use the zone's HTTP API instead.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ConflictError, NotFoundError } from '../../core/src/errors.ts';
import { processSignals } from '../../core/src/lifecycle.ts';
import { childLogger, createLogger } from '../../core/src/logging.ts';
import { parseInteger } from '../../core/src/options/scalars.ts';
import { redactUrlSecrets } from '../../core/src/options/redact.ts';
import type { Store } from '../../core/src/store/types.ts';
import { envHint, resolveStoreCliOptions } from './cli-options.ts';
import type { CliFlags, ResolvedStoreCliOptions } from './cli-options.ts';
import type { CliContext, OpenStore } from './context.ts';
import {
  entryToJson,
  listToJson,
  listToLines,
  rawValue,
  watchEventToJson,
} from './store-output.ts';

/** Add `store` and its verbs to `program`. */
export function addStoreCommand(program: Command, ctx: CliContext): void {
  const store = program
    .command('store')
    .description('read and write the Causeway store directly (like etcdctl)')
    .option('--store <url>', `store URL: embedded, memory, redis://… (${envHint.store})`)
    .option('--data-dir <dir>', `embedded store directory (${envHint.dataDir}) (default: ./data)`)
    .addHelpText(
      'after',
      '\nThe embedded store is opened from --data-dir (default ./data). Stop the process\n' +
        'that owns it first: two processes must not write one data directory.',
    );
  const { stdout } = ctx;
  const line = (text: string) => stdout.write(`${text}\n`);
  const json = (value: unknown) => line(JSON.stringify(value));

  store
    .command('get')
    .description('print the value of a key (raw bytes, or the whole entry with --json)')
    .argument('<key>')
    .option('--json', 'print the entry as JSON, value base64-encoded')
    .action(async (key: string, opts: { json?: boolean }, cmd: Command) => {
      await withStore(cmd, ctx, async (s) => {
        const entry = await s.get(key);
        if (entry === null) throw new NotFoundError(`key "${key}" not found`, 'key');
        if (opts.json) json(entryToJson(entry));
        else stdout.write(rawValue(entry.value, stdout.isTTY));
      });
    });

  store
    .command('put')
    .description('write a key; <value> "-" reads stdin, "@path" reads a file')
    .argument('<key>')
    .argument('<value>')
    .option('--flags <n>', 'opaque client flags to store', integer('--flags'))
    .option(
      '--cas <index>',
      'write only if the key is at this modifyIndex (0: only if new)',
      integer('--cas'),
    )
    .action(
      async (key: string, value: string, opts: { flags?: number; cas?: number }, cmd: Command) => {
        const bytes = await readValue(value, ctx);
        await withStore(cmd, ctx, async (s) => {
          const result = await s.put(key, bytes, { flags: opts.flags, cas: opts.cas });
          if (!result.ok) throw casFailed(key, opts.cas ?? 0, result.current?.modifyIndex);
          line(`wrote "${key}" at index ${result.entry.modifyIndex}`);
        });
      },
    );

  store
    .command('list')
    .description('list keys under a prefix (all keys without one)')
    .argument('[prefix]', 'key prefix', '')
    .option('--separator <sep>', 'roll keys up into folders at this separator, e.g. /')
    .option('--json', 'print entries (values base64-encoded) and folders as JSON')
    .action(async (prefix: string, opts: { separator?: string; json?: boolean }, cmd: Command) => {
      await withStore(cmd, ctx, async (s) => {
        const result = await s.list(prefix, { separator: opts.separator });
        if (opts.json) json(listToJson(result));
        else for (const key of listToLines(result)) line(key);
      });
    });

  store
    .command('delete')
    .description('delete a key, or every key under a prefix with --recurse')
    .argument('<key>')
    .option('--recurse', 'treat <key> as a prefix and delete everything under it')
    .option('--cas <index>', 'delete only if the key is at this modifyIndex', integer('--cas'))
    .action(async (key: string, opts: { recurse?: boolean; cas?: number }, cmd: Command) => {
      await withStore(cmd, ctx, async (s) => {
        const result = await s.delete(key, { recurse: opts.recurse, cas: opts.cas });
        if (!result.ok) {
          throw new ConflictError(
            `check-and-set failed: "${key}" is no longer at modifyIndex ${opts.cas}`,
            'cas',
          );
        }
        line(`deleted ${result.deleted} key${result.deleted === 1 ? '' : 's'}`);
      });
    });

  store
    .command('watch')
    .description('print one JSON line per change under a prefix until Ctrl-C')
    .argument('[prefix]', 'key prefix', '')
    .option(
      '--from-index <index>',
      'replay changes after this index (default: now)',
      integer('--from-index'),
    )
    .action(async (prefix: string, opts: { fromIndex?: number }, cmd: Command) => {
      await withStore(cmd, ctx, (s) => watch(s, prefix, opts.fromIndex, ctx, json));
    });

  store
    .command('info')
    .description('print the store kind and its current index')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withStore(cmd, ctx, async (s, resolved) => {
        const info = {
          kind: s.kind,
          index: await s.currentIndex(),
          location: describeLocation(resolved),
        };
        if (opts.json) json(info);
        else line(`kind: ${info.kind}\nindex: ${info.index}\nlocation: ${info.location}`);
      });
    });
}

/** Open the store the flags and environment name, run `fn`, and always close it. */
async function withStore(
  cmd: Command,
  ctx: CliContext,
  fn: (store: Store, options: ResolvedStoreCliOptions) => Promise<void>,
): Promise<void> {
  const options = resolveStoreCliOptions(cmd.optsWithGlobals<CliFlags>(), ctx.env);
  const logger = childLogger(
    createLogger({
      level: options.logLevel,
      name: 'causeway',
      destination: ctx.logDestination ?? 2,
    }),
    'store-cli',
  );
  const open = ctx.openStore ?? (await defaultOpenStore());
  const store = await open(options.store, { dataDir: options.dataDir, logger });
  try {
    await fn(store, options);
  } finally {
    await store.close();
  }
}

async function defaultOpenStore(): Promise<OpenStore> {
  // Imported on first use: the Redis client is not loaded for `--help` or `causeway run`.
  const { openStore } = await import('../../core/src/store/open-store.ts');
  return openStore;
}

/** Stream changes until Ctrl-C. After a resync, carry on from the store's current index. */
async function watch(
  store: Store,
  prefix: string,
  fromIndex: number | undefined,
  ctx: CliContext,
  json: (value: unknown) => void,
): Promise<void> {
  const stop = new AbortController();
  const uninstall = (ctx.installSignals ?? processSignals)(['SIGINT', 'SIGTERM'], () =>
    stop.abort(),
  );
  // A watch waiting for the next change holds no handle of its own (the embedded store's
  // watchers are plain promises); keep the process alive until Ctrl-C.
  const keepAlive = setInterval(() => {}, 60_000);
  if (store.kind === 'embedded') {
    ctx.stderr.write(
      'note: this command opened the embedded store itself, so it sees only changes it ' +
        'already holds; use --store redis://… to follow writes made by a running process\n',
    );
  }
  try {
    let from = fromIndex ?? (await store.currentIndex());
    while (!stop.signal.aborted) {
      let resynced = false;
      for await (const event of store.watch(prefix, from, { signal: stop.signal })) {
        json(watchEventToJson(event));
        if (event.type === 'resync') resynced = true;
        else from = event.index;
      }
      // The iterator also ends when the store closes; only a resync means "go on".
      if (!resynced) break;
      from = await store.currentIndex();
    }
  } finally {
    clearInterval(keepAlive);
    uninstall();
  }
}

/**
 * Which store answered, so an operator can tell a wrong `--data-dir` from an empty store.
 * URLs lose their password.
 */
function describeLocation({ store, dataDir }: ResolvedStoreCliOptions): string {
  if (store === undefined || /^embedded:?$/i.test(store)) return dataDir;
  if (/^memory:?$/i.test(store)) return 'memory (not persisted)';
  return redactUrlSecrets(store);
}

function casFailed(key: string, cas: number, current: number | undefined): ConflictError {
  const what =
    current === undefined
      ? `"${key}" does not exist`
      : cas === 0
        ? `"${key}" already exists (modifyIndex ${current})`
        : `"${key}" is at modifyIndex ${current}, not ${cas}`;
  return new ConflictError(`check-and-set failed: ${what}`, 'cas');
}

/** `-` reads stdin, `@path` reads a file, anything else is the value itself. */
async function readValue(value: string, ctx: CliContext): Promise<Buffer> {
  if (value === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.stdin) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    }
    return Buffer.concat(chunks);
  }
  if (value.startsWith('@')) return readFile(value.slice(1));
  return Buffer.from(value, 'utf8');
}

/** A commander option parser for whole numbers that names the flag on error. */
function integer(flag: string): (value: string) => number {
  return (value) => parseInteger(value, flag);
}

/**
 * The data directory lock: two stores appending to one log would interleave records and
 * corrupt it, so at most one store, in any process, holds a data directory.
 *
 * `LOCK` is a directory holding exactly one entry, `pid-<pid>-<token>`, that names its owner.
 * Every step is a single atomic file system operation, so no interleaving of openers can
 * leave two of them holding it:
 *
 * - Take: build `LOCK.<pid>.<token>.new/pid-<pid>-<token>` privately, then rename it to
 *   `LOCK`. rename(2) puts a directory in place only where nothing is, or an empty
 *   directory; so it succeeds exactly when nobody holds the lock, and the lock is never
 *   visible without its owner's name in it.
 * - Take over: an owner whose process is gone (`kill(pid, 0)` fails with ESRCH) is removed
 *   by unlinking that owner's entry, `LOCK/pid-<pid>-<token>`. The name is unique to one
 *   owner, so a process that judged an old owner stale, and acts late, finds nothing to
 *   remove instead of removing the newer owner's lock. Then the rename is tried again.
 * - Release: unlink our own entry (so only ever ours), then remove `LOCK` if still empty.
 *
 * A plain `LOCK` file is the earlier format (or something that is not ours). It is taken
 * over only if it names a dead process, or is empty (or all NUL bytes, as a crash can
 * leave it) and older than {@link EMPTY_LOCK_GRACE_MS}; anything else is refused for an
 * operator to look at. unlink(2) cannot remove a directory, so clearing such a file can
 * never remove a lock taken meanwhile in the format above.
 *
 * Pids are only meaningful on one machine: do not share a data directory between hosts.
 */
import { randomBytes } from 'node:crypto';
import {
  lstat,
  mkdir,
  readFile,
  readdir,
  realpath,
  rename,
  rm,
  rmdir,
  unlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../../errors.ts';
import type { EmbeddedStoreLogger } from './options.ts';

const LOCK = 'LOCK';
const OWNER_RE = /^pid-([1-9]\d{0,9})-([0-9a-f]{16})$/;
const STAGING_RE = /^LOCK\.([1-9]\d{0,9})\.[0-9a-f]{16}\.new$/;
/** How long an empty `LOCK` file is presumed to be in the middle of being written. */
export const EMPTY_LOCK_GRACE_MS = 10_000;
/** Rounds of "taken, but by a dead process" before giving up: each needs another opener. */
const MAX_ATTEMPTS = 5;

/** Data directories (real paths) this process holds, so a second open in-process is refused. */
const held = new Set<string>();

/** Whether a process exists. EPERM: it does, but belongs to someone else. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

function ignore(...codes: string[]): (err: unknown) => undefined {
  return (err) => {
    if (!codes.includes(errno(err) ?? '')) throw err;
    return undefined;
  };
}

/**
 * Claim data directory `dir` (which must exist) for this process. Returns the function that
 * releases it. Throws {@link ConfigError} when another live process, or this one, holds it.
 */
export async function lockDataDir(
  dir: string,
  logger?: EmbeddedStoreLogger,
): Promise<() => Promise<void>> {
  const real = await realpath(dir);
  if (held.has(real)) {
    throw new ConfigError(`data directory ${dir} is already open in this process`, 'dataDir');
  }
  // Reserved right after the check, with no await between, so a concurrent open in this
  // process is refused above instead of racing us for the lock.
  held.add(real);
  try {
    const lock = new DirLock(real, logger);
    await lock.take();
    return async () => {
      try {
        await lock.release();
      } finally {
        held.delete(real);
      }
    };
  } catch (err) {
    held.delete(real);
    throw err;
  }
}

class DirLock {
  private readonly lockPath: string;
  private readonly owner: string;
  private readonly staging: string;

  constructor(
    private readonly dir: string,
    private readonly logger: EmbeddedStoreLogger | undefined,
  ) {
    const token = randomBytes(8).toString('hex');
    this.lockPath = path.join(dir, LOCK);
    this.owner = `pid-${process.pid}-${token}`;
    this.staging = path.join(dir, `${LOCK}.${process.pid}.${token}.new`);
  }

  async take(): Promise<void> {
    await mkdir(this.staging);
    try {
      await writeFile(path.join(this.staging, this.owner), `${process.pid}\n`);
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        try {
          await rename(this.staging, this.lockPath);
          await this.removeDeadStaging();
          return;
        } catch (err) {
          const code = errno(err);
          if (code === 'ENOTEMPTY' || code === 'EEXIST') await this.clearIfStale();
          else if (code === 'ENOTDIR') await this.clearFileIfStale();
          else throw err;
        }
      }
      throw new ConfigError(
        `data directory ${this.dir} is contended: its lock ${this.lockPath} keeps changing hands`,
        'dataDir',
      );
    } catch (err) {
      await rm(this.staging, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
  }

  /** Give up the lock if it is still ours; a lock someone took over is left alone. */
  async release(): Promise<void> {
    try {
      await unlink(path.join(this.lockPath, this.owner));
    } catch {
      return;
    }
    // Fails (ENOTEMPTY) if another opener renamed its lock into place meanwhile: fine.
    await rmdir(this.lockPath).catch(() => undefined);
  }

  /** `LOCK` is a directory with an owner: refuse if it is alive, else remove that owner. */
  private async clearIfStale(): Promise<void> {
    const entries = await readdir(this.lockPath).catch(ignore('ENOENT', 'ENOTDIR'));
    // Gone, or released meanwhile (an empty LOCK directory is an unheld lock): try again.
    if (entries === undefined || entries.length === 0) return;
    const match = entries.length === 1 ? OWNER_RE.exec(entries[0]!) : null;
    if (!match) {
      throw new ConfigError(
        `data directory ${this.dir} has a lock ${this.lockPath} holding ` +
          `${JSON.stringify(entries)}, which no Causeway store wrote; if no store is using ` +
          `the directory, delete ${this.lockPath}`,
        'dataDir',
      );
    }
    const pid = Number(match[1]);
    // Our own pid in a lock this process does not hold (see `held`) is a previous
    // incarnation's: pids are reused, notably pid 1 in containers.
    if (pid !== process.pid && isAlive(pid)) this.refuseLive(pid);
    // Only that owner's entry: if it was already replaced, this removes nothing.
    await unlink(path.join(this.lockPath, entries[0]!)).catch(ignore('ENOENT', 'ENOTDIR'));
    this.logger?.warn(
      { dataDir: this.dir, pid },
      'embedded store took over the lock of a process that is gone',
    );
  }

  /** `LOCK` is a plain file (the earlier format, or not ours). */
  private async clearFileIfStale(): Promise<void> {
    let content: Buffer;
    let mtimeMs: number;
    try {
      ({ mtimeMs } = await lstat(this.lockPath));
      content = await readFile(this.lockPath);
    } catch (err) {
      // Removed or replaced by a directory meanwhile: the next rename tells which.
      if (errno(err) === 'ENOENT' || errno(err) === 'EISDIR') return;
      throw err;
    }
    const text = content.toString('latin1');
    const pidMatch = /^([1-9]\d{0,9})\n?$/.exec(text);
    if (pidMatch) {
      const pid = Number(pidMatch[1]);
      if (pid !== process.pid && isAlive(pid)) this.refuseLive(pid);
    } else if (/^\0*$/.test(text)) {
      // Empty: an opener between creating the file and writing its pid, or a crash there.
      const age = Date.now() - mtimeMs;
      if (age < EMPTY_LOCK_GRACE_MS) {
        throw new ConfigError(
          `data directory ${this.dir} has an empty lock file ${this.lockPath} from ` +
            `${Math.round(age / 1000)} s ago: another process may be taking it; try again, ` +
            `or delete it if no store is using the directory`,
          'dataDir',
        );
      }
    } else {
      throw new ConfigError(
        `data directory ${this.dir} has a lock file ${this.lockPath} that no Causeway store ` +
          `wrote; if no store is using the directory, delete it`,
        'dataDir',
      );
    }
    try {
      await unlink(this.lockPath);
    } catch (err) {
      if (errno(err) === 'ENOENT') return;
      // A directory now (EISDIR; EPERM on macOS): someone took the lock. Anything else is real.
      const now = await lstat(this.lockPath).catch(() => undefined);
      if (now?.isDirectory() !== true) throw err;
      return;
    }
    this.logger?.warn(
      { dataDir: this.dir, lockFile: this.lockPath },
      'embedded store took over a stale lock file',
    );
  }

  private refuseLive(pid: number): never {
    throw new ConfigError(
      `data directory ${this.dir} is in use by process ${pid}; if that is not a Causeway ` +
        `store, delete ${this.lockPath}`,
      'dataDir',
    );
  }

  /** Staging directories left by openers that died before their rename. */
  private async removeDeadStaging(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    for (const name of names) {
      const m = STAGING_RE.exec(name);
      // Our own pid: a previous incarnation's (an opener in this process would hold `held`).
      if (!m || (Number(m[1]) !== process.pid && isAlive(Number(m[1])))) continue;
      await rm(path.join(this.dir, name), { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

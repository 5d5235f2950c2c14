/**
 * Node's file system errors turned into the store's typed errors, so callers never see a raw
 * `EEXIST` and can tell a data directory that cannot work (fix the configuration) from a disk
 * that failed at run time (retryable: try again, or look at the machine).
 */
import { CausewayError, ConfigError, StoreUnavailableError } from '../../errors.ts';

/** What a path-level error code says about a data directory; none of these go away on retry. */
const PATH_PROBLEMS: Record<string, string> = {
  EEXIST: 'is not a directory',
  ENOTDIR: 'is not a directory (or is below a file)',
  EISDIR: 'holds a directory where a file belongs',
  ENOENT: 'disappeared while being opened',
  EACCES: 'is not accessible to this process',
  EPERM: 'is not accessible to this process',
  EROFS: 'is on a read-only file system',
  ELOOP: 'has a symbolic link loop',
  ENAMETOOLONG: 'has a path that is too long',
};

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The typed error for a failure while opening (creating, locking, recovering) data directory
 * `dir`: a {@link ConfigError} for a path that cannot work as a data directory, otherwise a
 * {@link StoreUnavailableError}. Typed errors pass through unchanged.
 */
export function openFailure(err: unknown, dir: string): CausewayError {
  if (err instanceof CausewayError) return err;
  const problem = PATH_PROBLEMS[(err as NodeJS.ErrnoException).code ?? ''];
  if (problem !== undefined) {
    return new ConfigError(`data directory ${dir} ${problem}: ${describe(err)}`, 'dataDir');
  }
  return new StoreUnavailableError(
    `embedded store cannot open data directory ${dir}: ${describe(err)}`,
    err,
  );
}

/** The typed error for an I/O failure at run time; `what` says what failed and where. */
export function ioFailure(err: unknown, what: string): CausewayError {
  if (err instanceof CausewayError) return err;
  return new StoreUnavailableError(`${what}: ${describe(err)}`, err);
}

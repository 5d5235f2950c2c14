/**
 * How the CLI ends: one line on stderr and an exit code a script can branch on.
 *
 * - 0: success (also `--help`, `--version`, and Ctrl-C ending `store watch`);
 * - 1: the operation failed (not found, check-and-set conflict, store unavailable, a
 *   component failed or did not drain);
 * - 2: the command line was wrong (unknown command or component, bad flag value).
 */
import { CommanderError } from 'commander';
import { isCausewayError } from '../../core/src/errors.ts';
import type { ErrorCode } from '../../core/src/errors.ts';
import type { Output } from './context.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const usageCodes = new Set<ErrorCode>([
  'CW_ERR_CONFIG',
  'CW_ERR_INVALID_ARGUMENT',
  'CW_ERR_INVALID_KEY',
]);

/**
 * Print `err` and return the exit code. Causeway errors print their message and code,
 * never a stack: they are expected conditions, and the code is what to search the docs
 * for. System errors (`EACCES`) print the same way. Anything else is a bug, so its stack
 * is printed for the report.
 */
export function reportError(err: unknown, stderr: Output): number {
  if (err instanceof CommanderError) {
    // commander has already printed its message (and help, when asked for).
    return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  if (isCausewayError(err)) {
    stderr.write(`error: ${err.message} (${err.code})\n`);
    return usageCodes.has(err.code) ? EXIT_USAGE : EXIT_FAILURE;
  }
  const code = systemErrorCode(err);
  if (code !== undefined) {
    stderr.write(`error: ${(err as Error).message} (${code})\n`);
    return EXIT_FAILURE;
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  stderr.write(`error: unexpected failure, please report it with this output:\n${detail}\n`);
  return EXIT_FAILURE;
}

/** `EACCES`, `ECONNREFUSED`…: Node's errors from the operating system. */
function systemErrorCode(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : undefined;
}

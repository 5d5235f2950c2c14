/**
 * The `causeway` command. Reads the process's surroundings and hands them to the program.
 */
import { runCli } from './src/program.ts';

const code = await runCli(process.argv, {
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
// Exit the natural way, so output still buffered for a pipe is written out; but if a
// component that failed to drain still holds the event loop, do not hang on it.
process.exitCode = code;
setTimeout(() => process.exit(code), 1000).unref();

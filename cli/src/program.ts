/**
 * The `causeway` command line: the program, its commands, and how a run ends.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { envHint } from './cli-options.ts';
import type { CliContext } from './context.ts';
import { EXIT_OK, reportError } from './report-error.ts';
import { addDevCommand } from './dev/dev-command.ts';
import { addRunCommand } from './run-command.ts';
import { addStoreCommand } from './store-command.ts';
import { addTokenCommand } from './token-command.ts';
import { addZoneCommand } from './zone-command.ts';

/** The version in package.json, shown by `causeway --version`. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

/** Build the `causeway` program. Commands print to `ctx.stdout`, never to `process`. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('causeway')
    .description('Causeway: a multi-zone service mesh')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option(
      '--log-level <level>',
      `trace, debug, info, warn, error, fatal or silent (${envHint.logLevel})`,
    )
    .configureOutput({
      writeOut: (text) => ctx.stdout.write(text),
      writeErr: (text) => ctx.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)')
    // Throw instead of calling process.exit(), so runCli decides the exit code. Set before
    // adding commands: .command() copies these settings to each subcommand.
    .exitOverride();
  addRunCommand(program, ctx);
  addStoreCommand(program, ctx);
  addTokenCommand(program, ctx);
  addZoneCommand(program, ctx);
  addDevCommand(program, ctx);
  return program;
}

/**
 * Run the command line `argv` (as in `process.argv`, node and script first) and return the
 * exit code; errors are printed to `ctx.stderr`, never thrown.
 */
export async function runCli(argv: readonly string[], ctx: CliContext): Promise<number> {
  try {
    await buildProgram(ctx).parseAsync([...argv]);
    return EXIT_OK;
  } catch (err) {
    return reportError(err, ctx.stderr);
  }
}

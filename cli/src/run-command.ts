/**
 * `causeway run <component>`: start one process component (zone control plane; proxy, gateway and global later)
 * from the registry and keep it running until SIGTERM/SIGINT.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../core/src/errors.ts';
import { runComponents } from '../../core/src/lifecycle.ts';
import { childLogger, createLogger } from '../../core/src/logging.ts';
import { formatDuration } from '../../core/src/options/duration.ts';
import { redact } from '../../core/src/options/redact.ts';
import { envHint, resolveRunCliOptions } from './cli-options.ts';
import type { CliFlags } from './cli-options.ts';
import { components as builtIn, describeAvailable } from './components.ts';
import type { CliContext } from './context.ts';

/** Add `run` to `program`. */
export function addRunCommand(program: Command, ctx: CliContext): void {
  const registry = ctx.components ?? builtIn;
  const list = [...registry.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, c]) => `  ${name.padEnd(10)} ${c.description}`);
  program
    .command('run')
    .description('run a Causeway process component until SIGTERM or SIGINT')
    .argument('<component>', 'the component to run (see below)')
    .argument('[args...]', "the component's own options")
    // The component parses its own flags (`causeway run proxy --service web`).
    .allowUnknownOption()
    .option(
      '--drain-timeout <duration>',
      `how long each of its parts may take to stop, e.g. 30s (${envHint.drainTimeout}) (default: 10s)`,
    )
    .addHelpText(
      'after',
      `\nComponents:\n${list.length > 0 ? list.join('\n') : `  ${describeAvailable(registry)}`}`,
    )
    .action(async (name: string, args: string[], _opts: unknown, cmd: Command) => {
      const entry = registry.get(name);
      if (entry === undefined) {
        throw new InvalidArgumentError(
          `unknown component "${name}"; available components: ${describeAvailable(registry)}`,
          'component',
        );
      }
      const options = resolveRunCliOptions(cmd.optsWithGlobals<CliFlags>(), ctx.env);
      const root = createLogger({
        level: options.logLevel,
        name: 'causeway',
        destination: ctx.logDestination ?? 1,
      });
      const logger = childLogger(root, name);
      logger.info(
        { options: redact({ ...options, drainTimeout: formatDuration(options.drainTimeoutMs) }) },
        `starting ${name}`,
      );
      const factory = await entry.load();
      const parts = await factory({ logger, env: ctx.env, args });
      await runComponents(parts, {
        logger,
        drainTimeoutMs: options.drainTimeoutMs,
        installSignals: ctx.installSignals,
      });
    });
}
